"""The order book from Python: a full consistency check and the :class:`OrderBook` wrapper
for tests, tools and snapshots."""

from __future__ import annotations

import numpy as np

from margincall.core.errors import InvalidInputError
from margincall.venue.book import (
    amend,
    cancel,
    cancel_account,
    process_messages,
    submit,
)
from margincall.venue.book_queries import (
    depth_lots,
    level_lots,
    walk,
)
from margincall.venue.book_state import (
    _M_BEST_ASK,
    _M_BEST_BID,
    _M_CAPACITY,
    _M_FREE_HEAD,
    _M_MIN_TICK,
    _M_N_ACCOUNTS,
    _M_RESTING,
    _M_RESTING_SIDE,
    _SLOT_MASK,
    A_HEAD,
    A_TAIL,
    BLOCK,
    BOOK_EVENT_DTYPE,
    L_BLOCK,
    L_HEAD,
    L_LOTS,
    L_TAIL,
    O_ACCT,
    O_ANEXT,
    O_APREV,
    O_ID,
    O_LEAVES,
    O_NEXT,
    O_PREV,
    O_PRICE,
    STP_EXPIRE_BOTH,
    STP_EXPIRE_MAKER,
    STP_EXPIRE_TAKER,
    STP_NONE,
    TIF_FOK,
    TIF_GTC,
    TIF_IOC,
    TIF_POST_ONLY,
    BookState,
    new_book,
)


def check_invariants(book: BookState) -> None:
    """Recount the whole book from its links and raise ``InvariantViolation`` on any mismatch.

    Slow (Python loops); meant for tests and debug runs.
    """
    from margincall.core.errors import InvariantViolation

    meta, orders, levels = book.meta, book.orders, book.levels
    mn = int(meta[_M_MIN_TICK])
    n_acc = int(meta[_M_N_ACCOUNTS])
    seen: set[int] = set()
    sums = np.zeros((4, n_acc), np.int64)
    for si in (0, 1):
        best = 0
        for li in np.flatnonzero(levels[si, :, L_HEAD] >= 0):
            price = mn + int(li)
            if best == 0 or (si == 0 and price > best) or (si == 1 and price < best):
                best = price
            slot, prev, total = int(levels[si, li, L_HEAD]), -1, 0
            while slot >= 0:
                row = [int(v) for v in orders[slot]]
                if slot in seen or row[O_PREV] != prev:
                    raise InvariantViolation(f"broken level queue at price {price}")
                if row[O_PRICE] != price or row[O_ACCT] & 1 != si:
                    raise InvariantViolation(f"order in slot {slot} on the wrong level")
                if row[O_LEAVES] <= 0 or row[O_ID] & _SLOT_MASK != slot:
                    raise InvariantViolation(f"bad order in slot {slot}")
                seen.add(slot)
                total += row[O_LEAVES]
                a = row[O_ACCT] >> 1
                sums[si, a] += row[O_LEAVES]
                sums[si + 2, a] += row[O_LEAVES] * price
                prev, slot = slot, row[O_NEXT]
            if int(levels[si, li, L_TAIL]) != prev or total != int(levels[si, li, L_LOTS]):
                raise InvariantViolation(f"level {price} tail or lots mismatch")
        empty = levels[si, :, L_HEAD] < 0
        if np.any(levels[si, empty, L_LOTS] != 0) or np.any(levels[si, empty, L_TAIL] != -1):
            raise InvariantViolation("empty level with lots or a tail")
        n_ticks = levels.shape[1]
        pad = (-n_ticks) % BLOCK
        used = np.concatenate([~empty, np.zeros(pad, bool)]).reshape(-1, BLOCK).sum(axis=1)
        if np.any(levels[si, ::BLOCK, L_BLOCK] != used):
            raise InvariantViolation("a block's count of non-empty levels is wrong")
        if best != int(meta[_M_BEST_BID if si == 0 else _M_BEST_ASK]):
            raise InvariantViolation(f"best price of side index {si} is stale")
    bb, ba = int(meta[_M_BEST_BID]), int(meta[_M_BEST_ASK])
    if bb and ba and bb >= ba:
        raise InvariantViolation(f"crossed book at rest: bid {bb} >= ask {ba}")
    for si in (0, 1):
        n_side = sum(1 for slot in seen if int(orders[slot, O_ACCT]) & 1 == si)
        if n_side != int(meta[_M_RESTING_SIDE + si]):
            raise InvariantViolation(f"resting count of side index {si} is wrong")
    if len(seen) != int(meta[_M_RESTING]):
        raise InvariantViolation("resting count mismatch")
    listed = 0
    for a in range(n_acc):
        slot, prev, last_id = int(book.accounts[a, A_HEAD]), -1, -1
        while slot >= 0:
            if slot not in seen or int(orders[slot, O_ACCT]) >> 1 != a:
                raise InvariantViolation(f"account {a} list holds a foreign order")
            if int(orders[slot, O_APREV]) != prev or int(orders[slot, O_ID]) <= last_id:
                raise InvariantViolation(f"account {a} list out of order")
            listed += 1
            last_id = int(orders[slot, O_ID])
            prev, slot = slot, int(orders[slot, O_ANEXT])
        if int(book.accounts[a, A_TAIL]) != prev:
            raise InvariantViolation(f"account {a} list tail mismatch")
    if listed != len(seen):
        raise InvariantViolation("account lists do not cover the book")
    kept = np.stack(
        [book.open_buy_lots, book.open_sell_lots, book.open_buy_ticklots, book.open_sell_ticklots]
    )
    if not np.array_equal(kept, sums):
        raise InvariantViolation("per-account open sums differ from a recount")
    free = 0
    slot = int(meta[_M_FREE_HEAD])
    while slot >= 0:
        free += 1
        if orders[slot, O_ID] != -1 or free > orders.shape[0]:
            raise InvariantViolation("free list corrupt")
        slot = int(orders[slot, O_NEXT])
    if free + len(seen) != int(meta[_M_CAPACITY]):
        raise InvariantViolation("slots leaked")


Level = tuple[int, list[tuple[int, int, int]]]


class OrderBook:
    """Python wrapper around a :class:`BookState` for tests, tools and snapshots.

    Every mutating method returns the records it produced as a fresh ``BOOK_EVENT_DTYPE`` array.
    """

    def __init__(self, min_tick: int, max_tick: int, order_capacity: int, n_accounts: int):
        self.state = new_book(min_tick, max_tick, order_capacity, n_accounts)
        self._out = np.empty(64, BOOK_EVENT_DTYPE)

    def _take(self, out: np.ndarray, n: int) -> np.ndarray:
        self._out = out
        return out[:n].copy()

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
            raise InvalidInputError("side", side, "+1 (buy) or -1 (sell)")
        if tif not in (TIF_GTC, TIF_IOC, TIF_FOK, TIF_POST_ONLY):
            raise InvalidInputError("tif", tif, "one of TIF_GTC, TIF_IOC, TIF_FOK, TIF_POST_ONLY")
        if stp not in (STP_NONE, STP_EXPIRE_TAKER, STP_EXPIRE_MAKER, STP_EXPIRE_BOTH):
            raise InvalidInputError("stp", stp, "one of the STP_* constants")
        oid, out, n = submit(
            self.state,
            int(account),
            int(side),
            int(price),
            int(qty),
            int(tif),
            int(stp),
            self._out,
            0,
        )
        return int(oid), self._take(out, n)

    def cancel(self, order_id: int) -> np.ndarray:
        """Cancel a resting order."""
        return self._take(*cancel(self.state, int(order_id), self._out, 0))

    def amend(self, order_id: int, new_qty: int) -> np.ndarray:
        """Change the size of a resting order."""
        return self._take(*amend(self.state, int(order_id), int(new_qty), self._out, 0))

    def cancel_account(self, account: int) -> np.ndarray:
        """Cancel all resting orders of an account, oldest first."""
        return self._take(*cancel_account(self.state, int(account), self._out, 0))

    def process_messages(self, msgs: np.ndarray) -> np.ndarray:
        """Apply a ``MESSAGE_DTYPE`` batch; returns all records."""
        return self._take(*process_messages(self.state, msgs, self._out, 0))

    def best_bid(self) -> int:
        """Best bid, 0 if none."""
        return int(self.state.meta[_M_BEST_BID])

    def best_ask(self) -> int:
        """Best ask, 0 if none."""
        return int(self.state.meta[_M_BEST_ASK])

    def resting_count(self) -> int:
        """Number of resting orders."""
        return int(self.state.meta[_M_RESTING])

    def level_lots(self, side: int, price: int) -> int:
        """Resting lots at one price."""
        return int(level_lots(self.state, int(side), int(price)))

    def depth_lots(self, side: int, best_price: int, worst_price: int) -> int:
        """Resting lots between two prices inclusive."""
        return int(depth_lots(self.state, int(side), int(best_price), int(worst_price)))

    def walk(self, taker_side: int, qty: int, limit_price: int) -> tuple[int, int]:
        """``(filled_lots, ticklots)`` a taker could fill, without changing the book."""
        f, t = walk(self.state, int(taker_side), int(qty), int(limit_price))
        return int(f), int(t)

    def open_sums(self, account: int) -> tuple[int, int, int, int]:
        """``(buy_lots, sell_lots, buy_ticklots, sell_ticklots)`` resting for an account."""
        s = self.state
        return (
            int(s.open_buy_lots[account]),
            int(s.open_sell_lots[account]),
            int(s.open_buy_ticklots[account]),
            int(s.open_sell_ticklots[account]),
        )

    def levels(self, side: int) -> list[Level]:
        """``[(price, [(order_id, account, leaves), ...]), ...]`` best price first, FIFO."""
        s = self.state
        si = 0 if side == 1 else 1
        mn = int(s.meta[_M_MIN_TICK])
        idx = np.flatnonzero(s.levels[si, :, L_HEAD] >= 0)
        if si == 0:
            idx = idx[::-1]
        result: list[Level] = []
        for li in idx:
            queue = []
            slot = int(s.levels[si, li, L_HEAD])
            while slot >= 0:
                row = s.orders[slot]
                queue.append((int(row[O_ID]), int(row[O_ACCT]) >> 1, int(row[O_LEAVES])))
                slot = int(row[O_NEXT])
            result.append((mn + int(li), queue))
        return result

    def check_invariants(self) -> None:
        """Raise ``InvariantViolation`` if the internal structure is inconsistent."""
        check_invariants(self.state)
