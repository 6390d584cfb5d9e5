"""Random command sequences against :class:`PortfolioVenue`, per rulebook, with the invariants
after every step: money conserved in the settlement asset and in every collateral asset, long
open interest equal to short on every instrument, no account below zero without a fund or
uncovered-loss event (``check_invariants``); one event sequence over all instruments, strictly
increasing by one; after ``run_liquidations`` no account is left breached unless it was
liquidated in that block (it waits for the next one)."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from margincall.events.schema import EventKind
from margincall.venue import portfolio_margin as PM
from margincall.venue.accounts import N_ACCOUNTS
from margincall.venue.portfolio import PortfolioVenue

START = {"BTCUSDT": 60_000, "ETHUSDT": 3_000, "SOLUSDT": 150}
SECOND = 1_000_000_000
CAPACITY = 20
SEEN: Counter[str] = Counter()  # what the examples went through, checked per rulebook


class PortfolioMachine(RuleBasedStateMachine):
    RULEBOOK = "binance"

    def __init__(self) -> None:
        super().__init__()
        from margincall.venue.instrument import load_rulebook

        rb = load_rulebook(self.RULEBOOK)
        prices = {s: p for s, p in START.items() if s in rb.instruments}
        # the first collateral asset besides the settlement asset, if the rulebook has one
        extra = [c for c, spec in rb.collateral.items() if not spec.settlement][:1]
        self.asset = extra[0] if extra else None
        self.asset_price = Decimal(START["BTCUSDT"] if self.asset in ("BTC", "XBT") else 1)
        self.pv = PortfolioVenue(
            rb, prices, capacity=CAPACITY, insurance_fund_usd=20_000,
            collateral_prices={self.asset: self.asset_price} if self.asset else None,
        )  # fmt: skip
        self.seen = 0
        self.now = 0

    def collateral(self, usd: int) -> dict | None:
        """``usd`` worth of the collateral asset, if any."""
        if not usd or self.asset is None:
            return None
        return {self.asset: (Decimal(usd) / self.asset_price).quantize(Decimal("0.000001"))}

    @property
    def n(self) -> int:
        return int(self.pv.legs[0].meta[N_ACCOUNTS])

    def account(self, i: int) -> int:
        return 3 + i % (self.n - 3) if self.n > 3 else 1

    def symbol(self, i: int) -> str:
        return self.pv.symbols[i % len(self.pv.symbols)]

    def price(self, sym: str, d: int) -> Decimal:
        v = self.pv.legs[self.pv.symbols.index(sym)]
        index = v.scale.ticks_to_price(int(v.meta[6]))
        step = (index / 500).quantize(v.scale.tick_size)
        lo, hi = v.scale.ticks_to_price(v.min_tick), v.scale.ticks_to_price(v.max_tick)
        return min(max(index + d * step, lo), hi)

    def qty(self, sym: str, usd: int) -> Decimal:
        v = self.pv.legs[self.pv.symbols.index(sym)]
        lots = max(1, int(Decimal(usd) / v.mark_price / v.scale.lot_size))
        return v.scale.lots_to_qty(lots)

    @initialize(
        depth=st.integers(2, 6),
        traders=st.lists(
            st.tuples(
                st.integers(2_000, 20_000), st.integers(0, 20_000),
                st.lists(st.integers(-100_000, 100_000).filter(bool), min_size=1, max_size=3),
            ),
            min_size=2, max_size=6,
        ),
    )  # fmt: skip
    def market(self, depth, traders):
        """A maker with a ladder on every instrument; traders with cross positions in several
        instruments bought from the ladder."""
        pv = self.pv
        maker = self.maker = pv.open_account(50_000_000, leverage=10)
        self.noise = pv.open_account(10_000_000, leverage=10)
        self.depth = depth
        for sym in pv.symbols:
            for k in range(depth):
                pv.submit_order(maker, sym, "buy", self.qty(sym, 400_000), self.price(sym, -1 - k))
                pv.submit_order(maker, sym, "sell", self.qty(sym, 400_000), self.price(sym, 1 + k))
        for cash, usde, legs in traders:
            t = pv.open_account(cash, collateral=self.collateral(usde), leverage=20)
            for s, usd in enumerate(legs):
                sym = self.symbol(s)
                pv.submit_order(t, sym, "buy" if usd > 0 else "sell", self.qty(sym, abs(usd)))

    @rule(cash=st.integers(0, 50_000), usde=st.integers(0, 50_000), leverage=st.integers(2, 20))
    def open_account(self, cash, usde, leverage):
        if self.n < CAPACITY + 1:
            self.pv.open_account(cash, collateral=self.collateral(usde), leverage=leverage)

    @rule(i=st.integers(0, 99), s=st.integers(0, 9), buy=st.booleans(),
          usd=st.integers(500, 200_000), d=st.integers(-6, 6), market=st.booleans())  # fmt: skip
    def submit(self, i, s, buy, usd, d, market):
        sym = self.symbol(s)
        price = None if market else self.price(sym, d)
        self.pv.submit_order(
            self.account(i), sym, "buy" if buy else "sell", self.qty(sym, usd), price
        )

    @rule(s=st.integers(0, 9), pct=st.integers(-150, 100))
    def move(self, s, pct):
        """The index moves; the maker quotes around it again and a small trade prints there
        (Binance's mark follows the book and the last trade as well as the index)."""
        pv = self.pv
        sym = self.symbol(s)
        v = pv.legs[pv.symbols.index(sym)]
        price = v.index_price * (1 + Decimal(pct) / 1000)
        price = min(
            max(price, v.scale.ticks_to_price(v.min_tick)), v.scale.ticks_to_price(v.max_tick)
        )
        pv.set_index_price(sym, price.quantize(v.scale.tick_size))
        pv.cancel_all(self.maker)
        for sym_ in pv.symbols:
            for k in range(self.depth):
                pv.submit_order(
                    self.maker, sym_, "buy", self.qty(sym_, 400_000), self.price(sym_, -1 - k)
                )
                pv.submit_order(
                    self.maker, sym_, "sell", self.qty(sym_, 400_000), self.price(sym_, 1 + k)
                )
        pv.submit_order(self.noise, sym, "buy" if pct > 0 else "sell", self.qty(sym, 1_000))
        pv.update_marks()
        self.liquidate()

    @rule(move=st.sampled_from(["1", "0.98", "0.9", "0.8", "0.65", "1.01"]))
    def collateral_price(self, move):
        if self.asset is not None:
            self.pv.set_collateral_price(self.asset, self.asset_price * Decimal(move))

    @rule()
    def liquidate(self):
        self.now += SECOND
        self.pv.advance(self.now)
        events = self.pv.run_liquidations()
        if (events["kind"] == int(EventKind.LIQUIDATION_TRIGGERED)).any():
            event("a liquidation")
            SEEN["liquidation"] += 1
        if (events["kind"] == int(EventKind.COLLATERAL_CONVERTED)).any():
            event("a conversion")
            SEEN["conversion"] += 1
        pf = self.pv.pf
        waiting = set(pf.pending[: pf.meta[PM.N_PENDING]].tolist())
        for a in range(1, self.n):
            equity, mm = self.pv.margin(a)
            open_legs = any(v.acc.pos[a] for v in self.pv.legs)
            breached = open_legs and (equity < mm if pf.meta[PM.STRICT] else equity <= mm)
            assert not breached or a in waiting, a

    @invariant()
    def conserved(self):
        self.pv.check_invariants()

    @invariant()
    def one_sequence(self):
        seq = self.pv.log.records()["seq"][self.seen :]
        assert (seq == np.arange(self.seen, self.seen + len(seq))).all()
        self.seen += len(seq)


SETTINGS = settings(
    max_examples=60, stateful_step_count=30, deadline=None, derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)  # fmt: skip


@pytest.mark.parametrize("rulebook", ["binance", "bitmex", "dydx", "hyperliquid"])
def test_portfolio_venue_invariants(rulebook: str) -> None:
    machine = type(f"Portfolio_{rulebook}", (PortfolioMachine,), {"RULEBOOK": rulebook})
    machine.TestCase.settings = SETTINGS
    SEEN.clear()
    machine.TestCase().runTest()
    assert SEEN["liquidation"] > 0, "no example liquidated a portfolio account"
    print(rulebook, dict(SEEN))
