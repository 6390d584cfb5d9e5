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

# venue-wide integer state (``meta`` array), one slot each
SEQ = 0  # next event sequence number
TS = 1  # simulated time of the current step, ns
FEES = 2  # trading fees collected by the venue, micro-dollars
DEPOSITS = 3  # net money brought in (deposits - withdrawals, the fund's seed included)
LAST = 4  # last trade price, ticks (0 before the first trade)
MARK = 5  # mark price, ticks
INDEX = 6  # index / oracle price, ticks
N_ACCOUNTS = 7  # accounts opened so far
ROUND = 8  # current liquidation round
UNCOVERED = 9  # losses no one covered, micro-dollars (information only)
RNG = 10  # state of the venue's deterministic generator (dYdX candidate offsets)
META_SIZE = 16


class Accounts(NamedTuple):
    """Per-account arrays, indexed by account id (0 is the insurance fund / backstop vault)."""

    wallet: np.ndarray  # int64 micro-dollars
    iso_margin: np.ndarray  # int64 micro-dollars (isolated accounts)
    pos: np.ndarray  # int64 lots, signed
    cost: np.ndarray  # int64 micro-dollars, signed entry notional
    leverage: np.ndarray  # int32 chosen leverage (initial margin of new exposure)
    flags: np.ndarray  # int8: EXISTS | ISOLATED
    last_partial_ns: np.ndarray  # int64: time of the last partial liquidation (Hyperliquid)


ROW_BYTES = 64
LOC = 40  # byte offset of the liquidation index's place of the account (int32)
"""Bytes per account row: every per-account field of the accounts and the liquidation index
shares one cache line, so touching an account costs one memory access, not one per field."""


def account_rows(capacity: int) -> np.ndarray:
    """One zeroed, cache-line-aligned row of ``ROW_BYTES`` bytes per account (uint8, 2-D)."""
    raw = np.zeros(capacity * ROW_BYTES + ROW_BYTES, np.uint8)
    start = (-raw.ctypes.data) % ROW_BYTES
    return raw[start : start + capacity * ROW_BYTES].reshape(capacity, ROW_BYTES)


def field(rows: np.ndarray, offset: int, dtype: type) -> np.ndarray:
    """A strided view of one field of every row."""
    width = np.dtype(dtype).itemsize
    return rows[:, offset : offset + width].view(dtype)[:, 0]


def new_accounts(capacity: int, rows: np.ndarray | None = None) -> Accounts:
    """Zeroed accounts for ``capacity`` accounts, in ``rows`` (see :func:`account_rows`).

    Row layout (bytes): 0 wallet, 8 iso_margin, 16 pos, 24 cost, 32 and 40 the liquidation
    index's key and place (``LOC``), 48 flags, 49 index side, 52 leverage, 56 last_partial_ns.
    """
    if rows is None:
        rows = account_rows(capacity)
    acc = Accounts(
        wallet=field(rows, 0, np.int64),
        iso_margin=field(rows, 8, np.int64),
        pos=field(rows, 16, np.int64),
        cost=field(rows, 24, np.int64),
        leverage=field(rows, 52, np.int32),
        flags=field(rows, 48, np.int8),
        last_partial_ns=field(rows, 56, np.int64),
    )
    acc.leverage[:] = 1
    acc.last_partial_ns[:] = np.iinfo(np.int64).min // 2
    return acc
