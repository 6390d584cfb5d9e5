"""Random command sequences against :class:`Venue`, per rulebook, with invariants after every step.

After every step: ``check_invariants()`` (money conserved to the micro-dollar, long OI = short
OI, no crossed book at rest, no flat account below zero without a covering event); every open
position is in the liquidation index under a key the mark reaches whenever the account is
breached (keys may be early, never late); FIFO inside each book level; event ``seq`` strictly
increasing by one. After ``run_liquidations``: an account still breached at the mark is one the
call tried (a liquidation that could not move it), a dYdX account already liquidated in this
block, or a maker the fund's unloading just filled.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from margincall.events.schema import EventKind, RejectReason
from margincall.venue import book as bk
from margincall.venue.accounts import ISOLATED, MARK, N_ACCOUNTS, TS
from margincall.venue.engine import Venue
from margincall.venue.margin_int import is_breached, margin_excess

K = EventKind
SECOND = 1_000_000_000
CAPACITY = 24
SLOT_MASK = 0xFFFFFFFF
TIFS = ("gtc", "ioc", "fok", "post_only")


@pytest.fixture(scope="module", autouse=True)
def _warm_up():
    """Compile (or load) every kernel once before the timed examples."""
    for rb in ("binance", "bitmex", "dydx", "hyperliquid"):
        v = Venue(rb, price=60_000, insurance_fund_usd=1_000, capacity=4, price_window=(0.5, 2.0))
        a = v.open_account(10_000)
        b = v.open_account(10_000)
        v.submit_order(a, "buy", "0.01", 59_000)
        v.submit_order(b, "sell", "0.01")
        v.set_index_price(50_000)
        v.update_mark()
        v.run_liquidations()
        v.settle_funding(1_000)
        v.check_invariants()


def _usd(micros: int) -> Decimal:
    return Decimal(micros).scaleb(-6)


class VenueMachine(RuleBasedStateMachine):
    RULEBOOK = "binance"

    def __init__(self) -> None:
        super().__init__()
        self.v = Venue(
            self.RULEBOOK,
            price=60_000,
            insurance_fund_usd=50_000,
            capacity=CAPACITY,
            price_window=(0.5, 2.0),
            order_capacity=512,
        )
        self.v.max_rounds = 50
        self.orders: list[int] = []  # ids of orders that were accepted to rest
        self.priority: dict[int, int] = {}  # FIFO model: acceptance (or amend-up) order
        self.counter = 0
        self.seen = 0  # events checked so far
        self.strict = self.RULEBOOK in ("dydx", "hyperliquid")

    # ---- helpers -----------------------------------------------------------------------------

    @property
    def n(self) -> int:
        return int(self.v.meta[N_ACCOUNTS])

    def account(self, i: int) -> int:
        return 1 + i % (self.n - 1)

    def record(self, events: np.ndarray) -> np.ndarray:
        for r in events[events["kind"] == int(K.ORDER_ACCEPTED)]:
            oid = int(r["order_id"])
            if oid & SLOT_MASK != bk.NO_SLOT:
                self.counter += 1
                self.priority[oid] = self.counter
                self.orders.append(oid)
        return events

    def breached(self, a: int) -> bool:
        v = v_ = self.v
        coll = int(v.acc.iso_margin[a] if v.acc.flags[a] & ISOLATED else v.acc.wallet[a])
        ex = margin_excess(coll, int(v_.acc.pos[a]), int(v.acc.cost[a]), int(v.meta[MARK]), v.k,
                           v.tiers.floor, v.tiers.mmr_ppm, v.tiers.cum)  # fmt: skip
        return bool(is_breached(ex, self.strict))

    def price(self, d: int) -> Decimal:
        """A price on a small grid around the index (steps of 20 USD)."""
        index = self.v.scale.ticks_to_price(int(self.v.meta[6]))
        step = Decimal(20)
        p = (index / step).to_integral_value() * step + d * step
        lo = self.v.scale.ticks_to_price(self.v.min_tick)
        hi = self.v.scale.ticks_to_price(self.v.max_tick)
        return min(max(p, lo), hi)

    # ---- rules -------------------------------------------------------------------------------

    @initialize(
        fund=st.sampled_from([0, 0, 50, 5_000, 200_000]),
        traders=st.lists(
            st.tuples(st.integers(200, 20_000), st.integers(-30, 30).filter(bool), st.booleans()),
            min_size=2,
            max_size=8,
        ),
        depth=st.integers(2, 10),
    )
    def market(self, fund, traders, depth):
        """Two makers with a ladder, traders holding leveraged positions bought from maker 1."""
        v = self.v
        if fund:
            v.deposit(0, fund)
        m1 = v.open_account(5_000_000, leverage=10)
        m2 = v.open_account(5_000_000, leverage=10)
        max_lev = int(v.instrument.tiers[0].max_leverage)
        unit = v.scale.qty_to_lots("0.01")
        for wallet, size, isolated in traders:
            t = v.open_account(wallet, leverage=max_lev, isolated=isolated)
            v.block_trades(np.array([t]), np.array([size * unit]), self.price(0), m1)
        for k in range(depth):
            self.record(
                v.submit_order(m2, "buy", v.scale.lots_to_qty(5 * unit), self.price(-1 - 2 * k))
            )
            self.record(
                v.submit_order(m2, "sell", v.scale.lots_to_qty(5 * unit), self.price(1 + 2 * k))
            )

    @precondition(lambda self: self.n < CAPACITY + 1)
    @rule(
        deposit=st.integers(0, 20_000_000_000),
        leverage=st.integers(1, 40),
        isolated=st.booleans(),
    )
    def open_account(self, deposit, leverage, isolated):
        self.v.open_account(_usd(deposit), leverage=leverage, isolated=isolated)

    @rule(i=st.integers(0, 10**6), amount=st.integers(1, 20_000_000_000))
    def deposit(self, i, amount):
        self.v.deposit(self.account(i), _usd(amount))

    @rule(i=st.integers(0, 10**6), amount=st.integers(1, 20_000_000_000))
    def withdraw(self, i, amount):
        a = self.account(i)
        before = int(self.v.acc.wallet[a])
        free = self.v.available_micros(a)
        ev = self.v.withdraw(a, _usd(amount))
        if amount > free:
            assert ev["reason"].tolist() == [int(RejectReason.INSUFFICIENT_MARGIN)]
            assert self.v.acc.wallet[a] == before
        else:
            assert self.v.acc.wallet[a] == before - amount

    @rule(
        i=st.integers(0, 10**6),
        side=st.sampled_from(["buy", "sell"]),
        lots=st.integers(1, 40),
        d=st.integers(-8, 8),
        tif=st.sampled_from(TIFS),
        reduce_only=st.booleans(),
        market=st.booleans(),
    )
    def submit(self, i, side, lots, d, tif, reduce_only, market):
        qty = self.v.scale.lots_to_qty(lots * self.v.scale.qty_to_lots("0.005"))
        price = None if market else self.price(d)
        self.record(
            self.v.submit_order(self.account(i), side, qty, price, tif=tif, reduce_only=reduce_only)
        )

    @precondition(lambda self: self.orders)
    @rule(j=st.integers(0, 10**6))
    def cancel(self, j):
        self.v.cancel_order(self.orders[j % len(self.orders)])

    @precondition(lambda self: self.orders)
    @rule(j=st.integers(0, 10**6), lots=st.integers(1, 60))
    def amend(self, j, lots):
        oid = self.orders[j % len(self.orders)]
        lots *= self.v.scale.qty_to_lots("0.005")
        orders = self.v.book.orders
        slot = oid & SLOT_MASK
        leaves = int(orders[slot, bk.O_LEAVES]) if orders[slot, bk.O_ID] == oid else None
        ev = self.v.amend_order(oid, self.v.scale.lots_to_qty(lots))
        if (ev["kind"] == int(K.ORDER_AMENDED)).any():
            assert leaves is not None
            if lots > leaves:  # bigger: to the back of the level
                self.counter += 1
                self.priority[oid] = self.counter

    @rule(i=st.integers(0, 10**6))
    def cancel_all(self, i):
        self.v.cancel_all(self.account(i))

    @rule(
        bp=st.one_of(
            st.integers(-100, 100),
            st.sampled_from([-1500, -1000, -700, -500, 500, 700, 1000, 1500]),
        )
    )
    def move_index(self, bp):
        """Small steps (up to 1%) and occasional 5-15% drops and rises."""
        self._move(bp)

    @rule(
        bp=st.sampled_from([-1200, -800, -400, -200, 200, 400, 800, 1200]),
        seconds=st.sampled_from([0, 1, 40]),
    )
    def shock(self, bp, seconds):
        """One simulator step: the clock, a price move, the mark, the liquidation engine."""
        self.advance(seconds)
        self._move(bp)
        self.update_mark()
        self.run_liquidations()

    def _move(self, bp):
        index = int(self.v.meta[6])
        ticks = index + index * bp // 10_000
        lo, hi = self.v.min_tick + 1, self.v.max_tick - 1
        ticks = min(max(ticks, lo + (hi - lo) // 8), hi - (hi - lo) // 8)
        self.v.set_index_price(self.v.scale.ticks_to_price(ticks))

    @rule()
    def update_mark(self):
        self.v.update_mark()

    @rule()
    def run_liquidations(self):
        ev = self.record(self.v.run_liquidations())
        rounds = int((ev["kind"] == int(K.CASCADE_ROUND)).sum())
        if rounds >= int(self.v.params[18]):  # MAX_ROUNDS: the scan stopped early
            return
        tried = set(ev[ev["kind"] == int(K.LIQUIDATION_TRIGGERED)]["account"].tolist())
        fills = ev[ev["kind"] == int(K.ORDER_FILLED)]
        unloaded = set(fills[fills["counterparty"] == 0]["account"].tolist())
        done = self.RULEBOOK == "dydx"
        for a in range(1, self.n):
            if self.v.acc.pos[a] == 0 or not self.breached(a):
                continue
            if done and self.v.acc.last_partial_ns[a] == self.v.meta[TS]:
                continue
            assert a in tried or a in unloaded, f"account {a} is breached and was not liquidated"

    @rule(rate=st.integers(-5_000_000, 5_000_000))
    def settle_funding(self, rate):
        self.v.settle_funding(rate)

    @rule()
    def sample_premium(self):
        self.v.sample_premium()

    @rule(seconds=st.sampled_from([0, 1, 3, 30, 3_600]))
    def advance(self, seconds):
        self.v.advance(int(self.v.meta[TS]) + seconds * SECOND)

    # ---- invariants --------------------------------------------------------------------------

    @invariant()
    def money_interest_and_book_are_consistent(self):
        self.v.check_invariants()

    @invariant()
    def every_position_is_indexed_under_a_key_the_mark_reaches_when_breached(self):
        v, mark = self.v, int(self.v.meta[MARK])
        for a in range(1, self.n):
            p = int(v.acc.pos[a])
            side = int(v.index.side[a])
            if p == 0:
                assert side == 0, f"flat account {a} is still in the index"
                continue
            assert side == (1 if p > 0 else -1), f"account {a} is indexed on the wrong side"
            if self.breached(a):
                key = int(v.index.key[a])
                assert key >= mark if p > 0 else key <= mark, (
                    f"account {a} is breached at {mark} but keyed at {key}"
                )

    @invariant()
    def each_book_level_is_first_in_first_out(self):
        # the book's layout: one row per order slot (O_* columns), level queues linked by slot
        book = self.v.book
        orders = book.orders
        live = np.flatnonzero(orders[:, bk.O_ID] >= 0)
        mn = int(book.meta[0])
        levels = {(int(orders[s, bk.O_ACCT]) & 1, int(orders[s, bk.O_PRICE]) - mn) for s in live}
        for si, li in levels:
            slot = int(book.levels[si, li, bk.L_HEAD])
            last, count = -1, 0
            while slot >= 0:
                oid = int(orders[slot, bk.O_ID])
                prio = self.priority[oid]
                assert prio > last, f"order {oid} is out of queue order"
                last, count = prio, count + 1
                slot = int(orders[slot, bk.O_NEXT])
            assert count == sum(
                1
                for s in live
                if (int(orders[s, bk.O_ACCT]) & 1, int(orders[s, bk.O_PRICE]) - mn) == (si, li)
            )

    @invariant()
    def event_seq_increases_by_one(self):
        rec = self.v.log.records()
        new = rec["seq"][self.seen :]
        if len(new):
            assert new[0] == self.seen
            assert (np.diff(new) == 1).all()
            self.seen = len(rec)
        assert int(self.v.meta[0]) == len(rec)


def _case(rulebook: str):
    machine = type(f"{rulebook.title()}Machine", (VenueMachine,), {"RULEBOOK": rulebook})
    case = machine.TestCase
    case.settings = settings(
        max_examples=30,
        stateful_step_count=40,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    return case


TestBinanceVenue = _case("binance")
TestBitmexVenue = _case("bitmex")
TestDydxVenue = _case("dydx")
TestHyperliquidVenue = _case("hyperliquid")
