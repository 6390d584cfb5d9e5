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


def new_accounts(capacity: int) -> Accounts:
    """Zeroed arrays for ``capacity`` accounts."""
    return Accounts(
        wallet=np.zeros(capacity, np.int64),
        iso_margin=np.zeros(capacity, np.int64),
        pos=np.zeros(capacity, np.int64),
        cost=np.zeros(capacity, np.int64),
        leverage=np.ones(capacity, np.int32),
        flags=np.zeros(capacity, np.int8),
        last_partial_ns=np.full(capacity, np.iinfo(np.int64).min // 2, np.int64),
    )
