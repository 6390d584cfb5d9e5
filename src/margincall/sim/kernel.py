"""The simulation kernel: one documented phase order per timestamp, one event log.

Each step of ``run.step_seconds``:

1. **clock**: the venue's clock moves to the step's time;
2. **exogenous flow and index**: news shocks and net spot flow (the scenario's schedule plus
   the arbitrageur's hedges of the previous step) move the spot index process;
3. **agents act, orders match**: every group sees the same read-only view and returns orders;
   they reach the book in a fixed order (makers' cancels and quotes, arbitrage, directional perp
   flow, momentum, noise, stop-losses, intraday entrants), each matched as it arrives;
4. **mark price**: a premium sample is taken from the book and the mark recomputed;
5. **funding**: at the end of each funding interval, payments between longs and shorts;
6. **liquidations**: cascade rounds until no new breach (each round numbered in its events);
   the insurance fund takes over what the book cannot, ADL when it cannot pay, and the fund
   unloads what it took over into the book;
7. **snapshot**: every ``run.snapshot_seconds``, depth, open interest, fund and accounts.

Ties inside a step break by phase, then by the venue's sequence number, so every run is totally
ordered. The seed builds one ``SeedSequence`` tree; each agent group draws from its own named
stream. There is no wall clock and no unseeded randomness: the same scenario and seed give a
byte-identical event log in any process.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from margincall.agents.index import IndexProcess
from margincall.agents.makers import Makers
from margincall.agents.orders import Orders
from margincall.agents.population import Cohorts, StopBook, fit_leverage, open_population
from margincall.agents.takers import (
    Arbitrage,
    Momentum,
    Noise,
    PerpFlow,
    spot_flow_usd,
    stop_orders,
)
from margincall.agents.view import MarketView, read_only
from margincall.core.errors import InvalidInputError
from margincall.core.rng import RngTree
from margincall.events.schema import EventKind
from margincall.sim.news import News
from margincall.sim.scenario import Scenario, check_leverage
from margincall.venue import book as bk
from margincall.venue.engine import Venue

NS = 1_000_000_000
Progress = Callable[[int, int, int], None]  # (step, steps, liquidations so far)


@dataclass
class Accounts:
    """Account ids of each agent group."""

    desk: int
    makers: np.ndarray
    noise: np.ndarray
    momentum: np.ndarray
    flow: int


class Simulation:
    """A scenario set up on a venue, ready to run."""

    def __init__(self, scenario: Scenario, seed: int, *, keep_events: bool = True) -> None:
        self.scenario = scenario
        self.seed = seed
        self.tree = RngTree(seed)
        run, market = scenario.run, scenario.market
        self.steps = max(1, round(run.hours * 3600 / run.step_seconds))
        self.start_ns = int(run.start.timestamp()) * NS
        pop = scenario.population
        extra = (
            2
            + scenario.makers.count
            + scenario.noise.accounts
            + scenario.momentum.accounts
            + round(run.accounts * (pop.retail.intraday_share + pop.capital.intraday_share))
            + 2
        )
        try:
            v = Venue(
                run.rulebook,
                run.symbol,
                price=round(market.start_price, 1),
                capacity=run.accounts + extra,
                price_window=(0.3, 2.0),
                insurance_fund_usd=market.insurance_fund_usd,
                order_capacity=1 << 16,
                seed=self.tree.child("venue"),
                keep_events=keep_events,
            )
        except InvalidInputError as exc:  # the venue's price is the scenario's start price
            if exc.field != "price":
                raise
            raise InvalidInputError("market.start_price", exc.value, exc.expected) from exc
        self.venue = v
        check_leverage(scenario, v.instrument, v.rulebook.name)
        v.advance(self.start_ns - 60 * NS)  # the population opens before the start
        # leverage settings stay inside the margin tiers of the sizes these accounts reach,
        # fitted to the venue's maximum (see margincall.sim.scenario)
        desk = v.open_account(
            scenario.arbitrage.capital_usd, leverage=fit_leverage(1, v.instrument)
        )
        makers = np.array(
            [
                v.open_account(scenario.makers.capital_usd, leverage=fit_leverage(2, v.instrument))
                for _ in range(scenario.makers.count)
            ],
            np.int64,
        )
        noise = v.open_accounts(
            np.full(scenario.noise.accounts, int(scenario.noise.capital_usd * 1e6), np.int64),
            leverage=fit_leverage(5, v.instrument),
        )
        momentum = v.open_accounts(
            np.full(scenario.momentum.accounts, int(scenario.momentum.capital_usd * 1e6), np.int64),
            leverage=scenario.momentum.leverage,
        )
        flow = v.open_account(max(1.0, _flow_capital(scenario)), leverage=1)
        self.ids = Accounts(desk, makers, noise, momentum, flow)
        self.cohorts: Cohorts = open_population(scenario, v, desk, self.tree)
        self.stops = StopBook(self.cohorts.ids, self.cohorts.side, self.cohorts.stop)
        self.index = IndexProcess(
            scenario.index,
            market.start_price,
            run.step_seconds,
            self.tree.generator("index"),
            self.steps,
        )
        self.makers = Makers(scenario.makers, makers, scenario.makers.capital_usd)
        self.arb = Arbitrage(scenario.arbitrage, desk)
        self.noise = Noise(scenario.noise, noise, self.tree.generator("noise"))
        self.momentum = Momentum(
            scenario.momentum, momentum, run.step_seconds, self.tree.generator("momentum")
        )
        self.flow = PerpFlow(scenario.flow.perp, flow)
        self.setup_events = len(v.log)
        self.liquidations = 0
        self._step_seconds = float(run.step_seconds)
        self._tick_usd = float(v.scale.tick_size)
        self._lot_base = float(v.scale.lot_size)
        # read-only views of the live state, made once (the venue's arrays never move)
        self._arrays = tuple(
            read_only(a)
            for a in (
                v.acc.pos,
                v.acc.wallet,
                v.acc.cost,
                v.book.open_buy_lots,
                v.book.open_sell_lots,
            )
        )
        v.advance(self.start_ns)
        v.snapshot()

    def _view(self) -> MarketView:
        v = self.venue
        bid, ask = bk.best_prices(v.book)
        return MarketView(
            v.now_ns,
            self._step_seconds,
            v.index_ticks,
            v.mark_ticks,
            v.last_ticks,
            bid,
            ask,
            self._tick_usd,
            self._lot_base,
            v.k,
            *self._arrays,
        )

    def run(self, progress: Progress | None = None) -> None:
        """Run every step of the scenario (see the module docstring for the phase order)."""
        sc, v = self.scenario, self.venue
        dt = sc.run.step_seconds
        interval = int(v.rulebook.funding_interval_hours * 3600)
        news = News(sc.flow.shocks)
        trig = int(EventKind.LIQUIDATION_TRIGGERED)
        lo, hi = (
            float(v.scale.ticks_to_price(v.min_tick + 1)),
            float(v.scale.ticks_to_price(v.max_tick - 1)),
        )
        tick = float(v.scale.tick_size)
        every = max(1, self.steps // 200)
        orders = Orders()
        for step in range(1, self.steps + 1):
            elapsed = step * dt
            hour = (elapsed - dt) / 3600
            v.advance(self.start_ns + elapsed * NS)  # 1. clock
            jump = news.jump(elapsed, dt)  # 2. exogenous flow and index
            view = self._view()  # one read-only view per step: its arrays see the live state
            flow = spot_flow_usd(sc.flow.spot, hour, dt) + self.arb.hedge(view)
            price = min(max(self.index.step(flow, jump), lo), hi)
            v.set_index_ticks(round(price / tick))
            view = self._view()  # 3. agents act, orders match (the new index and mark)
            orders.clear()
            self.makers.act(view, orders)
            self.arb.act(view, orders)
            self.flow.act(view, orders, hour)
            self.momentum.act(view, orders)
            self.noise.act(view, orders)
            stop_orders(view, self.stops, orders)
            ent = self.cohorts.entrants
            if ent is not None and len(ent.ids):
                due, side = ent.orders(step, view.mark)
                if due.stop > due.start:
                    orders.extend_market(ent.ids[due], side, ent.lots[due], False)
            v.submit_orders(**orders.arrays(), cancel_first=orders.cancel_first)
            v.sample_premium()  # 4. mark
            v.update_mark()
            if elapsed % interval == 0:  # 5. funding
                v.settle_funding()
            ev = v.run_liquidations()  # 6. liquidations
            if len(ev):
                self.liquidations += int(np.count_nonzero(ev["kind"] == trig))
            if elapsed % sc.run.snapshot_seconds == 0:  # 7. snapshot
                v.snapshot()
            if progress is not None and (step % every == 0 or step == self.steps):
                progress(step, self.steps, self.liquidations)

    @property
    def end_ns(self) -> int:
        return self.start_ns + self.steps * self.scenario.run.step_seconds * NS

    def liquidation_map(self, width: float = 0.3, bins: int = 120):
        """Notional by approximate liquidation price at the start: (price grid, long, short),
        USD; the map the report draws."""
        c = self.cohorts
        p0 = self.scenario.market.start_price
        edges = np.linspace(p0 * (1 - width), p0 * (1 + width), bins + 1)
        notional = c.lots * c.entry * self.venue.k / 1e6
        long_ = np.histogram(c.liq_price[c.side > 0], edges, weights=notional[c.side > 0])[0]
        short = np.histogram(c.liq_price[c.side < 0], edges, weights=notional[c.side < 0])[0]
        return (edges[:-1] + edges[1:]) / 2, long_, short


def _flow_capital(scenario: Scenario) -> float:
    """Enough capital for the directional perp flow account at 1x."""
    total = sum(abs(w.usd_per_hour) * (w.end_hour - w.start_hour) for w in scenario.flow.perp)
    return max(1e6, 1.5 * total)
