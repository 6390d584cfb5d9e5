"""Order batches: what agents return, as arrays (one row per order)."""

from __future__ import annotations

import numpy as np
from numba import njit

from margincall.venue.book import TIF_GTC, TIF_IOC, TIF_POST_ONLY

_COLUMNS = ("accounts", "sides", "lots", "prices", "tifs", "reduce_only")


class Orders:
    """Orders to submit in the order added. ``price`` in ticks, 0 for a market order.

    Rows go straight into growable column buffers, so a step's batch costs one compiled copy
    per block; :meth:`clear` empties it for the next step (the buffers are reused).
    """

    def __init__(self, capacity: int = 1024) -> None:
        self.cancel_first: list[int] = []  # accounts whose orders are cancelled first
        self._n = 0
        self._cols = self._alloc(capacity)

    @staticmethod
    def _alloc(capacity: int) -> tuple[np.ndarray, ...]:
        return (*(np.zeros(capacity, np.int64) for _ in range(5)), np.zeros(capacity, np.bool_))

    def clear(self) -> None:
        self.cancel_first.clear()
        self._n = 0

    def __len__(self) -> int:
        return self._n

    def _reserve(self, k: int) -> int:
        """Room for ``k`` more rows; returns where they start."""
        n = self._n
        if n + k > self._cols[0].shape[0]:
            bigger = self._alloc(max(2 * self._cols[0].shape[0], n + k))
            for new, old in zip(bigger, self._cols, strict=True):
                new[:n] = old[:n]
            self._cols = bigger
        self._n = n + k
        return n

    def _row(self, account, side, lots, price, tif, reduce_only) -> None:
        if lots > 0:
            i = self._reserve(1)
            for col, value in zip(
                self._cols, (account, side, lots, price, tif, reduce_only), strict=True
            ):
                col[i] = value

    def _block(self, accounts, sides, lots, prices, tif: int, reduce_only: bool) -> None:
        """Append a block of orders (zero sizes skipped); ``prices`` None for market orders."""
        i = self._reserve(lots.shape[0])
        self._n = i + _write_block(*self._cols, i, accounts, sides, lots, prices, tif, reduce_only)

    def limit(self, account: int, side: int, lots: int, price: int) -> None:
        self._row(account, side, lots, price, TIF_GTC, False)

    def ioc(self, account: int, side: int, lots: int, price: int) -> None:
        """Immediate-or-cancel at a limit price (a market order with a slippage cap)."""
        self._row(account, side, lots, price, TIF_IOC, False)

    def market(self, account: int, side: int, lots: int, reduce_only: bool = False) -> None:
        self._row(account, side, lots, 0, TIF_IOC, reduce_only)

    def quotes(
        self, accounts: np.ndarray, lots: np.ndarray, bids: np.ndarray, asks: np.ndarray
    ) -> None:
        """Post-only bid and ask pairs, ``lots[i]`` of ``accounts[i]`` at ``bids[i]`` then at
        ``asks[i]`` (levels of zero size skipped); a quote that would cross is refused."""
        i = self._reserve(2 * lots.shape[0])
        self._n = i + _write_quotes(*self._cols, i, accounts, lots, bids, asks, TIF_POST_ONLY)

    def extend_market(
        self, accounts: np.ndarray, sides: np.ndarray, lots: np.ndarray, reduce_only: bool
    ) -> None:
        """Many market orders at once."""
        self._block(accounts, sides, lots, None, TIF_IOC, reduce_only)

    def extend_ioc(
        self, accounts: np.ndarray, sides: np.ndarray, lots: np.ndarray, prices: np.ndarray
    ) -> None:
        """Many immediate-or-cancel orders at limit prices at once."""
        self._block(accounts, sides, lots, prices, TIF_IOC, False)

    def arrays(self) -> dict[str, np.ndarray]:
        """Every order, in the order added, as the arrays of ``Venue.submit_orders`` (views of
        the buffers: valid until the next change)."""
        n = self._n
        return {name: col[:n] for name, col in zip(_COLUMNS, self._cols, strict=True)}


@njit(cache=True)
def _write_block(
    acc, side, size, price, tif, ro, i, accounts, sides, lots, prices, tif_value, reduce_only
):
    """Write the orders of nonzero ``lots`` from row ``i`` on (price 0 when ``prices`` is None);
    returns how many."""
    n = i
    for j in range(len(lots)):
        if lots[j] > 0:
            acc[n], side[n], size[n] = accounts[j], sides[j], lots[j]
            price[n] = 0 if prices is None else prices[j]
            tif[n], ro[n] = tif_value, reduce_only
            n += 1
    return n - i


@njit(cache=True)
def _write_quotes(acc, side, size, price, tif, ro, i, accounts, lots, bids, asks, tif_value):
    """Write a bid then an ask of each nonzero ``lots`` from row ``i`` on; returns how many rows."""
    n = i
    for j in range(len(lots)):
        if lots[j] > 0:
            acc[n : n + 2] = accounts[j]
            side[n], side[n + 1] = 1, -1
            size[n : n + 2] = lots[j]
            price[n], price[n + 1] = bids[j], asks[j]
            tif[n : n + 2] = tif_value
            ro[n : n + 2] = False
            n += 2
    return n - i
