"""The read-only market view agents act on."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit


@dataclass(frozen=True)
class MarketView:
    """What agents may see at one step. Arrays are read-only views of the venue's state.

    Prices are in ticks; ``tick_usd`` and ``lot_usd_per_tick`` convert: a price in dollars is
    ``ticks * tick_usd``; the notional of ``lots`` at ``ticks`` is ``lots * ticks * k / 1e6``.
    """

    t_ns: int
    step_seconds: float
    index: int
    mark: int
    last: int
    best_bid: int
    best_ask: int
    tick_usd: float
    lot_base: float  # base units (BTC) per lot
    k: int  # micro-dollars per tick-lot
    pos: np.ndarray  # lots per account (read-only)
    wallet: np.ndarray  # micro-dollars per account (read-only)
    cost: np.ndarray  # micro-dollars per account (read-only)
    open_bid_lots: np.ndarray  # resting buy lots per account (read-only): one's own orders
    open_ask_lots: np.ndarray  # resting sell lots per account (read-only)

    def usd_to_lots(self, usd: float, ticks: int | None = None) -> int:
        """Whole lots worth about ``usd`` at ``ticks`` (default: the mark)."""
        p = self.mark if ticks is None else ticks
        return int(usd * 1e6 // (p * self.k)) if p > 0 else 0

    @property
    def mid(self) -> int:
        if self.best_bid and self.best_ask:
            return (self.best_bid + self.best_ask) // 2
        return self.mark


@njit(cache=True, inline="always")
def equity_usd(account, pos, wallet, cost, mark, k):
    """Wallet plus open PnL at the mark of one account, dollars (cross margin); compiled code's
    reading of a view's arrays."""
    return (wallet[account] + pos[account] * mark * k - cost[account]) / 1e6


def read_only(a: np.ndarray) -> np.ndarray:
    v = a.view()
    v.flags.writeable = False
    return v
