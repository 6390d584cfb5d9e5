"""Pure-Python reference order book: the executable spec of :mod:`margincall.venue.book`.

Written for clarity, not speed: a dict per side from price to a deque of orders. It emits the
same ``BOOK_EVENT_DTYPE`` records and the same order ids as the compiled book, so tests compare
the two array for array. Ids are ``seq << 32 | slot``; to reproduce them the reference keeps the
same slot allocator as the compiled pool (a LIFO stack of free slots, lowest slot first at the
start; an order's slot is taken when a GTC/post-only order is accepted and given back when it
leaves the book; a taker that does not rest gives its slot back after the makers it removed).
See the docstring of :mod:`margincall.venue.book` for the full semantics.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from margincall.events.schema import EventKind, RejectReason
from margincall.venue.book import (
    BOOK_EVENT_DTYPE,
    NO_SLOT,
    STP_EXPIRE_BOTH,
    STP_EXPIRE_MAKER,
    STP_EXPIRE_TAKER,
    STP_NONE,
    TIF_FOK,
    TIF_GTC,
    TIF_IOC,
    TIF_POST_ONLY,
    new_book,
)
from margincall.venue.order_book import Level

__all__ = ["ReferenceOrderBook"]

Record = tuple[int, int, int, int, int, int, int, int, int, int]


@dataclass(eq=False)  # orders compare by identity (deque.remove)
class _Order:
    order_id: int
    account: int
    side: int
    price: int
    leaves: int


class ReferenceOrderBook:
    """Same Python interface as :class:`margincall.venue.book.OrderBook`."""

    def __init__(self, min_tick: int, max_tick: int, order_capacity: int, n_accounts: int):
        new_book(min_tick, max_tick, 1, n_accounts)  # same argument validation
        self.min_tick = int(min_tick)
        self.max_tick = int(max_tick)
        self.capacity = int(order_capacity)
        self.n_accounts = int(n_accounts)
        # side -> price -> FIFO queue of resting orders
        self.book: dict[int, dict[int, deque[_Order]]] = {1: {}, -1: {}}
        self.orders: dict[int, _Order] = {}  # resting orders by id
        self.free_slots = list(range(self.capacity - 1, -1, -1))  # pop() gives slot 0 first
        self.next_seq = 1

    # -- helpers ---------------------------------------------------------------------------

    @staticmethod
    def _records(records: list[Record]) -> np.ndarray:
        return np.array(records, dtype=BOOK_EVENT_DTYPE)

    def _best(self, side: int) -> int:
        prices = self.book[side]
        if not prices:
            return 0
        return max(prices) if side == 1 else min(prices)

    def _crosses(self, side: int, limit: int, level_price: int) -> bool:
        """Whether a taker on ``side`` with ``limit`` may trade at ``level_price``."""
        return level_price <= limit if side == 1 else level_price >= limit

    def _opposite_prices(self, side: int, limit: int) -> list[int]:
        """Prices of the opposite side a taker could reach, best first."""
        prices = sorted(self.book[-side], reverse=(side == -1))
        return [p for p in prices if self._crosses(side, limit, p)]

    def _remove(self, order: _Order) -> None:
        queue = self.book[order.side][order.price]
        queue.remove(order)
        if not queue:
            del self.book[order.side][order.price]
        del self.orders[order.order_id]
        self.free_slots.append(order.order_id & 0xFFFFFFFF)

    def _fillable(self, account: int, side: int, price: int, qty: int, stp: int) -> int:
        total = 0
        for p in self._opposite_prices(side, price):
            for o in self.book[-side][p]:
                if stp != STP_NONE and o.account == account:
                    if stp == STP_EXPIRE_MAKER:
                        continue
                    return total
                total += o.leaves
                if total >= qty:
                    return total
        return total

    # -- commands --------------------------------------------------------------------------

    def submit(
        self,
        account: int,
        side: int,
        price: int,
        qty: int,
        tif: int = TIF_GTC,
        stp: int = STP_NONE,
    ) -> tuple[int, np.ndarray]:
        """Submit an order; returns ``(order_id or -1, records)``."""
        if side not in (1, -1):
            raise ValueError("side must be +1 or -1")
        if tif not in (TIF_GTC, TIF_IOC, TIF_FOK, TIF_POST_ONLY):
            raise ValueError("bad tif")
        if stp not in (STP_NONE, STP_EXPIRE_TAKER, STP_EXPIRE_MAKER, STP_EXPIRE_BOTH):
            raise ValueError("bad stp")
        rests = tif in (TIF_GTC, TIF_POST_ONLY)
        reason = RejectReason.NONE
        if qty <= 0:
            reason = RejectReason.NON_POSITIVE_SIZE
        elif price <= 0:
            reason = RejectReason.NON_POSITIVE_PRICE
        elif not self.min_tick <= price <= self.max_tick:
            reason = RejectReason.OUTSIDE_PRICE_BAND
        elif not 0 <= account < self.n_accounts:
            reason = RejectReason.UNKNOWN_ACCOUNT
        elif tif == TIF_POST_ONLY:
            opposite = self._best(-side)
            if opposite and self._crosses(side, price, opposite):
                reason = RejectReason.POST_ONLY_WOULD_CROSS
        elif tif == TIF_FOK and self._fillable(account, side, price, qty, stp) < qty:
            reason = RejectReason.FOK_NOT_FILLABLE
        if reason == RejectReason.NONE and rests and not self.free_slots:
            reason = RejectReason.BOOK_FULL
        if reason != RejectReason.NONE:
            rec = (EventKind.ORDER_REJECTED, reason, -1, account, side, price, qty, -1, -1, 0)
            return -1, self._records([rec])

        seq = self.next_seq
        self.next_seq += 1
        slot = self.free_slots.pop() if rests else -1
        oid = (seq << 32) | (slot if rests else NO_SLOT)
        records: list[Record] = [
            (EventKind.ORDER_ACCEPTED, 0, oid, account, side, price, qty, -1, -1, qty)
        ]
        remaining = qty
        self_trade_stop = False
        for p in self._opposite_prices(side, price):
            for maker in list(self.book[-side][p]):
                if remaining == 0:
                    break
                if stp != STP_NONE and maker.account == account:
                    if stp in (STP_EXPIRE_MAKER, STP_EXPIRE_BOTH):
                        records.append(
                            (
                                EventKind.ORDER_CANCELLED,
                                RejectReason.SELF_TRADE,
                                maker.order_id,
                                maker.account,
                                maker.side,
                                p,
                                maker.leaves,
                                -1,
                                -1,
                                0,
                            )
                        )
                        self._remove(maker)
                    if stp in (STP_EXPIRE_TAKER, STP_EXPIRE_BOTH):
                        self_trade_stop = True
                        break
                    continue
                trade = min(remaining, maker.leaves)
                remaining -= trade
                maker.leaves -= trade
                records.append(
                    (
                        EventKind.ORDER_FILLED,
                        0,
                        oid,
                        account,
                        side,
                        p,
                        trade,
                        maker.order_id,
                        maker.account,
                        remaining,
                    )
                )
                if maker.leaves == 0:
                    self._remove(maker)
            if remaining == 0 or self_trade_stop:
                break

        if remaining > 0 and rests and not self_trade_stop:
            order = _Order(oid, account, side, price, remaining)
            self.book[side].setdefault(price, deque()).append(order)
            self.orders[oid] = order
        else:
            if remaining > 0:
                reason = RejectReason.SELF_TRADE if self_trade_stop else RejectReason.NONE
                records.append(
                    (
                        EventKind.ORDER_EXPIRED,
                        reason,
                        oid,
                        account,
                        side,
                        price,
                        remaining,
                        -1,
                        -1,
                        0,
                    )
                )
            if rests:
                self.free_slots.append(slot)
        return oid, self._records(records)

    def cancel(self, order_id: int) -> np.ndarray:
        """Cancel a resting order."""
        order = self.orders.get(order_id)
        if order is None:
            rec: Record = (
                EventKind.ORDER_REJECTED,
                RejectReason.UNKNOWN_ORDER,
                order_id,
                -1,
                0,
                0,
                0,
                -1,
                -1,
                0,
            )
            return self._records([rec])
        rec = (
            EventKind.ORDER_CANCELLED,
            0,
            order_id,
            order.account,
            order.side,
            order.price,
            order.leaves,
            -1,
            -1,
            0,
        )
        self._remove(order)
        return self._records([rec])

    def amend(self, order_id: int, new_qty: int) -> np.ndarray:
        """Change the size of a resting order (down keeps priority, up goes to the back)."""
        order = self.orders.get(order_id)
        reason = RejectReason.NONE
        if new_qty <= 0:
            reason = RejectReason.NON_POSITIVE_SIZE
        elif order is None:
            reason = RejectReason.UNKNOWN_ORDER
        elif new_qty == order.leaves:
            reason = RejectReason.AMEND_NOT_SMALLER
        if reason != RejectReason.NONE:
            if order is None:
                rec: Record = (
                    EventKind.ORDER_REJECTED,
                    reason,
                    order_id,
                    -1,
                    0,
                    0,
                    new_qty,
                    -1,
                    -1,
                    0,
                )
            else:
                rec = (
                    EventKind.ORDER_REJECTED,
                    reason,
                    order_id,
                    order.account,
                    order.side,
                    order.price,
                    new_qty,
                    -1,
                    -1,
                    order.leaves,
                )
            return self._records([rec])
        assert order is not None
        if new_qty > order.leaves:  # loses time priority
            queue = self.book[order.side][order.price]
            queue.remove(order)
            queue.append(order)
        order.leaves = new_qty
        rec = (
            EventKind.ORDER_AMENDED,
            0,
            order_id,
            order.account,
            order.side,
            order.price,
            new_qty,
            -1,
            -1,
            new_qty,
        )
        return self._records([rec])

    def cancel_account(self, account: int) -> np.ndarray:
        """Cancel all resting orders of an account, oldest (smallest id) first."""
        if not 0 <= account < self.n_accounts:
            rec = (
                EventKind.ORDER_REJECTED,
                RejectReason.UNKNOWN_ACCOUNT,
                -1,
                account,
                0,
                0,
                0,
                -1,
                -1,
                0,
            )
            return self._records([rec])
        records: list[Record] = []
        for oid in sorted(o.order_id for o in self.orders.values() if o.account == account):
            o = self.orders[oid]
            records.append(
                (EventKind.ORDER_CANCELLED, 0, oid, account, o.side, o.price, o.leaves, -1, -1, 0)
            )
            self._remove(o)
        return self._records(records)

    def process_messages(self, msgs: np.ndarray) -> np.ndarray:
        """Apply a ``MESSAGE_DTYPE`` batch (same ``ref`` rule as the compiled kernel)."""
        ids: list[int] = []
        chunks: list[np.ndarray] = []
        for i, m in enumerate(msgs.tolist()):
            op, account, side, price, qty, tif, stp, order_id, ref = m
            ids.append(-1)
            if op in (1, 2):
                target = (ids[ref] if ref < i else -1) if ref >= 0 else order_id
                chunks.append(self.cancel(target) if op == 1 else self.amend(target, qty))
            elif op == 0:
                ids[i], recs = self.submit(account, side, price, qty, tif, stp)
                chunks.append(recs)
            elif op == 3:
                chunks.append(self.cancel_account(account))
            else:
                raise ValueError(f"unknown message op {op}")
        if not chunks:
            return np.empty(0, BOOK_EVENT_DTYPE)
        return np.concatenate(chunks)

    # -- queries ---------------------------------------------------------------------------

    def best_bid(self) -> int:
        """Best bid, 0 if none."""
        return self._best(1)

    def best_ask(self) -> int:
        """Best ask, 0 if none."""
        return self._best(-1)

    def resting_count(self) -> int:
        """Number of resting orders."""
        return len(self.orders)

    def level_lots(self, side: int, price: int) -> int:
        """Resting lots at one price."""
        return sum(o.leaves for o in self.book[side].get(price, ()))

    def depth_lots(self, side: int, best_price: int, worst_price: int) -> int:
        """Resting lots between two prices inclusive."""
        lo, hi = sorted((best_price, worst_price))
        return sum(self.level_lots(side, p) for p in self.book[side] if lo <= p <= hi)

    def walk(self, taker_side: int, qty: int, limit_price: int) -> tuple[int, int]:
        """``(filled_lots, ticklots)`` a taker could fill (ignores STP), book unchanged."""
        filled = ticklots = 0
        for p in self._opposite_prices(taker_side, limit_price):
            take = min(self.level_lots(-taker_side, p), max(qty - filled, 0))
            filled += take
            ticklots += take * p
        return filled, ticklots

    def open_sums(self, account: int) -> tuple[int, int, int, int]:
        """``(buy_lots, sell_lots, buy_ticklots, sell_ticklots)`` resting for an account."""
        mine = [o for o in self.orders.values() if o.account == account]
        return (
            sum(o.leaves for o in mine if o.side == 1),
            sum(o.leaves for o in mine if o.side == -1),
            sum(o.leaves * o.price for o in mine if o.side == 1),
            sum(o.leaves * o.price for o in mine if o.side == -1),
        )

    def levels(self, side: int) -> list[Level]:
        """``[(price, [(order_id, account, leaves), ...]), ...]`` best price first, FIFO."""
        prices = sorted(self.book[side], reverse=(side == 1))
        return [
            (p, [(o.order_id, o.account, o.leaves) for o in self.book[side][p]]) for p in prices
        ]
