"""Accounts and positions as a struct of arrays: millions of accounts, no object per account.

One venue holds one instrument; each account has one one-way position in it. Money is in
micro-dollars, positions in lots. ``cost`` is the signed entry notional (longs positive), so
the average entry price is ``cost / (pos * k)`` and open PnL at a price is ``pos*price*k - cost``.
Cumulative statistics (realised PnL, fees, funding per account) are not stored: they are
derived from the event log.

Cross accounts back their position with the whole ``wallet``. Isolated accounts back it with
``iso_margin`` only: initial margin moves there from the wallet as the position grows and goes
back when it is closed, so a liquidation can never take more than that.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

EXISTS = 1
ISOLATED = 2
PORTFOLIO = 4
"""A cross leg of a portfolio account (:mod:`margincall.venue.portfolio`): the account-level
rules (trigger, keys, which legs close) are the portfolio's; the instrument's kernels hand the
account to it (:func:`margincall.venue.liq_index.defer`) where they would check or key it."""
QUEUED = 8  # the account waits in its instrument index's deferred list

# venue-wide integer state (``meta`` array), one slot each
SEQ = 0  # next event sequence number
TS = 1  # simulated time of the current step, ns
FEES = 2  # trading fees collected by the venue, micro-dollars
DEPOSITS = 3  # net money brought in (deposits - withdrawals, the fund's seed included)
LAST = 4  # last trade price, ticks (0 before the first trade)
MARK = 5  # mark price, ticks
INDEX = 6  # index / oracle price, ticks
N_ACCOUNTS = 7  # accounts opened so far
ROUND = 8  # liquidation round of the events being written (0 outside a cascade)
UNCOVERED = 9  # losses no one covered, micro-dollars (information only)
RNG = 10  # state of the venue's deterministic generator (dYdX candidate offsets)
OUT_N = 11  # events written into the entry kernel's event buffer (its cursor)
BOOK_N = 12  # book records waiting in the book-record buffer to be settled (its cursor)
META_SIZE = 16

ACCOUNT_ROW = np.dtype(
    {
        "names": [
            "wallet", "iso_margin", "pos", "cost", "key", "loc", "flags", "side", "leverage",
            "last_partial_ns",
        ],
        "formats": [
            np.int64, np.int64, np.int64, np.int64, np.int64, np.int32, np.int8, np.int8,
            np.int32, np.int64,
        ],
        "offsets": [0, 8, 16, 24, 32, 40, 48, 49, 52, 56],
        "itemsize": 64,
    }
)  # fmt: skip
"""One account's row: every per-account field of the accounts and of the liquidation index
(``key``, ``loc``, ``side``) shares one 64-byte cache line, so touching an account costs one
memory access, not one per field. The only spelling of the layout: :class:`Accounts`,
:class:`~margincall.venue.liq_index.LiqIndex` and the borrowed views of
:mod:`margincall.venue.state` are views of these fields."""


class Accounts(NamedTuple):
    """Per-account arrays, indexed by account id (0 is the insurance fund / backstop vault):
    views of the fields of :data:`ACCOUNT_ROW` of the same rows, and ``rest`` beside them."""

    wallet: np.ndarray  # int64 micro-dollars
    iso_margin: np.ndarray  # int64 micro-dollars (isolated accounts)
    pos: np.ndarray  # int64 lots, signed
    cost: np.ndarray  # int64 micro-dollars, signed entry notional
    leverage: np.ndarray  # int32 chosen leverage (initial margin of new exposure)
    flags: np.ndarray  # int8: EXISTS | ISOLATED
    last_partial_ns: np.ndarray  # int64: time of the last partial liquidation (Hyperliquid)
    rest: np.ndarray  # int64 micro-dollars: margin the rest of a portfolio lends this leg (else 0)


ROW_FIELDS = Accounts._fields[:-1]
"""The :class:`Accounts` fields that live in :data:`ACCOUNT_ROW` (``rest`` does not: only
portfolio legs use it)."""


def account_rows(capacity: int) -> np.ndarray:
    """One zeroed, cache-line-aligned :data:`ACCOUNT_ROW` per account."""
    size = ACCOUNT_ROW.itemsize
    raw = np.zeros(capacity * size + size, np.uint8)
    start = (-raw.ctypes.data) % size
    return raw[start : start + capacity * size].view(ACCOUNT_ROW)


def new_accounts(capacity: int, rows: np.ndarray | None = None) -> Accounts:
    """Zeroed accounts for ``capacity`` accounts, in ``rows`` (see :func:`account_rows`)."""
    if rows is None:
        rows = account_rows(capacity)
    views = {name: rows[name] for name in ROW_FIELDS}
    acc = Accounts(**views, rest=np.zeros(capacity, np.int64))
    acc.leverage[:] = 1
    acc.last_partial_ns[:] = np.iinfo(np.int64).min // 2
    return acc
