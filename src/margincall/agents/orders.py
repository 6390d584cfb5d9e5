"""Order batches: what agents return, as arrays (one row per order)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from margincall.venue.book import TIF_GTC, TIF_IOC, TIF_POST_ONLY


@dataclass
class Orders:
    """Orders to submit in array order. ``price`` in ticks, 0 for a market order."""

    account: list[int] = field(default_factory=list)
    side: list[int] = field(default_factory=list)
    lots: list[int] = field(default_factory=list)
    price: list[int] = field(default_factory=list)
    tif: list[int] = field(default_factory=list)
    reduce_only: list[bool] = field(default_factory=list)
    cancel_first: list[int] = field(default_factory=list)  # accounts whose orders go first
    chunks: list[tuple[np.ndarray, ...]] = field(default_factory=list)  # array blocks, in order

    def limit(self, account: int, side: int, lots: int, price: int) -> None:
        if lots > 0:
            self._add(account, side, lots, price, TIF_GTC, False)

    def ioc(self, account: int, side: int, lots: int, price: int) -> None:
        """Immediate-or-cancel at a limit price (a market order with a slippage cap)."""
        if lots > 0:
            self._add(account, side, lots, price, TIF_IOC, False)

    def market(self, account: int, side: int, lots: int, reduce_only: bool = False) -> None:
        if lots > 0:
            self._add(account, side, lots, 0, TIF_IOC, reduce_only)

    def limits(
        self,
        account: int,
        side: np.ndarray,
        lots: np.ndarray,
        price: np.ndarray,
        post_only: bool = False,
    ) -> None:
        """A block of limit orders of one account (zero sizes are skipped); ``post_only``
        orders that would cross are refused instead of trading."""
        self._block(
            np.int64(account), side, lots, price, TIF_POST_ONLY if post_only else TIF_GTC, False
        )

    def _flush_rows(self) -> None:
        if self.account:
            self.chunks.append(
                (
                    np.asarray(self.account, np.int64),
                    np.asarray(self.side, np.int64),
                    np.asarray(self.lots, np.int64),
                    np.asarray(self.price, np.int64),
                    np.asarray(self.tif, np.int64),
                    np.asarray(self.reduce_only, np.bool_),
                )
            )
            for rows in (self.account, self.side, self.lots, self.price, self.tif):
                rows.clear()
            self.reduce_only.clear()

    def _add(self, account, side, lots, price, tif, reduce_only) -> None:
        self.account.append(int(account))
        self.side.append(int(side))
        self.lots.append(int(lots))
        self.price.append(int(price))
        self.tif.append(int(tif))
        self.reduce_only.append(bool(reduce_only))

    def extend_market(
        self, accounts: np.ndarray, sides: np.ndarray, lots: np.ndarray, reduce_only: bool
    ) -> None:
        """Many market orders at once."""
        self._block(accounts, sides, lots, np.zeros(len(lots), np.int64), TIF_IOC, reduce_only)

    def extend_ioc(
        self, accounts: np.ndarray, sides: np.ndarray, lots: np.ndarray, prices: np.ndarray
    ) -> None:
        """Many immediate-or-cancel orders at limit prices at once."""
        self._block(accounts, sides, lots, prices, TIF_IOC, False)

    def _block(self, accounts, sides, lots, prices, tif: int, reduce_only: bool) -> None:
        """Append a block of orders (zero sizes skipped) after any single rows added so far."""
        self._flush_rows()
        keep = lots > 0
        n = int(keep.sum())
        self.chunks.append(
            (
                np.broadcast_to(accounts, lots.shape)[keep].astype(np.int64),
                sides[keep].astype(np.int64),
                lots[keep].astype(np.int64),
                prices[keep].astype(np.int64),
                np.full(n, tif, np.int64),
                np.full(n, reduce_only, np.bool_),
            )
        )

    def __len__(self) -> int:
        return len(self.account) + sum(len(c[0]) for c in self.chunks)

    def arrays(self) -> dict[str, np.ndarray]:
        """Every order, in the order added, as the arrays of ``Venue.submit_orders``."""
        self._flush_rows()
        names = ("accounts", "sides", "lots", "prices", "tifs", "reduce_only")
        if not self.chunks:
            return {k: np.empty(0, np.bool_ if k == "reduce_only" else np.int64) for k in names}
        return {k: np.concatenate([c[i] for c in self.chunks]) for i, k in enumerate(names)}
