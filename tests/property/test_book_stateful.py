"""Stateful property test: the compiled book behaves exactly like the pure-Python reference."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from margincall.events.schema import EventKind
from margincall.venue.book import (
    STP_EXPIRE_BOTH,
    STP_EXPIRE_MAKER,
    STP_EXPIRE_TAKER,
    STP_NONE,
    TIF_FOK,
    TIF_GTC,
    TIF_IOC,
    TIF_POST_ONLY,
)
from margincall.venue.order_book import OrderBook
from oracles.reference_book import ReferenceOrderBook

MIN_TICK, MAX_TICK = 95, 105
N_ACCOUNTS = 3
CAPACITY = 12  # small, so that BOOK_FULL happens

# mostly valid values, sometimes invalid ones (unknown account, bad price or size)
accounts = st.sampled_from([0, 1, 2] * 6 + [-1, N_ACCOUNTS])
prices = st.sampled_from(list(range(98, 103)) * 5 + [-1, 0, MIN_TICK - 1, MAX_TICK + 1])
sizes = st.sampled_from(list(range(1, 7)) * 4 + [0, -2])
tifs = st.sampled_from([TIF_GTC, TIF_GTC, TIF_IOC, TIF_FOK, TIF_POST_ONLY])
stps = st.sampled_from([STP_NONE, STP_EXPIRE_TAKER, STP_EXPIRE_MAKER, STP_EXPIRE_BOTH])


class BookMatchesReference(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.book = OrderBook(MIN_TICK, MAX_TICK, CAPACITY, N_ACCOUNTS)
        self.ref = ReferenceOrderBook(MIN_TICK, MAX_TICK, CAPACITY, N_ACCOUNTS)
        self.ids: list[int] = []  # every id ever returned, live or not
        self.priority: dict[int, int] = {}  # order id -> time it (re)joined its queue
        self.clock = 0

    def _same(self, ours: np.ndarray, theirs: np.ndarray) -> None:
        assert ours.dtype == theirs.dtype
        assert ours.tolist() == theirs.tolist()
        for r in ours:
            kind, oid = int(r["kind"]), int(r["order_id"])
            self.clock += 1
            if kind == EventKind.ORDER_ACCEPTED:
                self.priority[oid] = self.clock

    def _pick(self, index: int, stale: bool) -> int:
        """A live order id, or (``stale``) any id ever returned, live or not."""
        if stale:
            return self.ids[index % len(self.ids)] if self.ids else 1 << 32
        live = [o[0] for side in (1, -1) for _, q in self.book.levels(side) for o in q]
        return live[index % len(live)] if live else 12345

    @rule(
        account=accounts, side=st.sampled_from([1, -1]), price=prices, qty=sizes, tif=tifs, stp=stps
    )
    def submit(self, account, side, price, qty, tif, stp):
        oid, ours = self.book.submit(account, side, price, qty, tif, stp)
        rid, theirs = self.ref.submit(account, side, price, qty, tif, stp)
        assert oid == rid
        self._same(ours, theirs)
        if oid > 0:
            self.ids.append(oid)
        event(f"submit -> {sorted({int(k) for k in ours['kind']})}")

    @rule(index=st.integers(0, 1000), stale=st.sampled_from([False, False, True]))
    def cancel(self, index, stale):
        oid = self._pick(index, stale)
        self._same(self.book.cancel(oid), self.ref.cancel(oid))

    @rule(
        index=st.integers(0, 1000),
        new_qty=st.integers(-1, 8),
        stale=st.sampled_from([False, False, True]),
    )
    def amend(self, index, new_qty, stale):
        oid = self._pick(index, stale)
        before = {o[0]: o[2] for _, q in self.book.levels(1) + self.book.levels(-1) for o in q}
        ours = self.book.amend(oid, new_qty)
        self._same(ours, self.ref.amend(oid, new_qty))
        if int(ours[0]["kind"]) == EventKind.ORDER_AMENDED:
            event("amended")
            if new_qty > before[oid]:  # only an increase loses time priority
                self.priority[oid] = self.clock

    @rule(index=st.integers(0, 1000), extra=st.integers(1, 3))
    def amend_up(self, index, extra):
        oid = self._pick(index, False)
        leaves = {o[0]: o[2] for _, q in self.book.levels(1) + self.book.levels(-1) for o in q}
        new_qty = leaves.get(oid, 0) + extra
        self._same(self.book.amend(oid, new_qty), self.ref.amend(oid, new_qty))
        if oid in leaves:
            self.priority[oid] = self.clock

    @rule(account=accounts)
    def cancel_account(self, account):
        self._same(self.book.cancel_account(account), self.ref.cancel_account(account))

    @rule(side=st.sampled_from([1, -1]), qty=st.integers(0, 20), a=prices, b=prices)
    def queries_agree(self, side, qty, a, b):
        assert self.book.walk(side, qty, a) == self.ref.walk(side, qty, a)
        assert self.book.depth_lots(side, a, b) == self.ref.depth_lots(side, a, b)
        assert self.book.level_lots(side, a) == self.ref.level_lots(side, a)

    @invariant()
    def same_book_contents(self):
        for side in (1, -1):
            assert self.book.levels(side) == self.ref.levels(side)
        assert self.book.best_bid() == self.ref.best_bid()
        assert self.book.best_ask() == self.ref.best_ask()
        assert self.book.resting_count() == self.ref.resting_count()
        for a in range(N_ACCOUNTS):
            assert self.book.open_sums(a) == self.ref.open_sums(a)

    @invariant()
    def book_is_not_crossed_at_rest(self):
        bid, ask = self.book.best_bid(), self.book.best_ask()
        assert bid == 0 or ask == 0 or bid < ask

    @invariant()
    def fifo_within_each_level(self):
        for side in (1, -1):
            for _, queue in self.book.levels(side):
                joined = [self.priority[oid] for oid, _, _ in queue]
                assert joined == sorted(joined)

    @invariant()
    def open_sums_equal_a_recount(self):
        recount = np.zeros((N_ACCOUNTS, 4), np.int64)
        for side, k in ((1, 0), (-1, 1)):
            for price, queue in self.book.levels(side):
                for _, account, leaves in queue:
                    recount[account, k] += leaves
                    recount[account, k + 2] += leaves * price
        for a in range(N_ACCOUNTS):
            assert self.book.open_sums(a) == tuple(int(v) for v in recount[a])

    @invariant()
    def internal_structure_is_consistent(self):
        self.book.check_invariants()


BookMatchesReference.TestCase.settings = settings(
    max_examples=100,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_book_matches_reference = BookMatchesReference.TestCase
