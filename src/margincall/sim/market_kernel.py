"""The market kernel: several venues and assets, one documented phase order per timestamp.

A market scenario (:mod:`margincall.sim.market`) runs on one
:class:`~margincall.venue.portfolio.PortfolioVenue` per ``[[venues]]`` entry (its instruments at
the assets' start prices, its fund split equally over the rulebook's insurance funds: R9 maps
each instrument to one, and instruments may share it) and one :class:`~margincall.agents.factor_index.FactorIndex`
over ``[[assets]]``. Each step of ``run.step_seconds``, for every venue in the order listed:

1. **clock**: every venue's clock moves to the step's time; the arbitrageurs' transfers that
   have arrived are deposited;
2. **factor and asset indices with flows**: the news shocks and the market's net spot flow
   (``[flow]``) move the market factor; each asset's own part takes the arbitrageurs' spot hedges
   of that asset from the previous step; every venue's index of an asset is the asset's spot
   index (Hyperliquid's oracle included: its mark rule then weighs its own book and the others');
3. **makers' quotes** per venue and instrument (:class:`margincall.agents.makers.Makers`, one
   maker account per venue quoting every book with the scenario's ``[makers]`` scaled to the
   book, :meth:`MarketScenario.book_makers <margincall.sim.market.MarketScenario.book_makers>`:
   the stress of a book is the volatility of its asset and the loss of the whole account, so a
   loss on one book thins the others) and the makers of its stablecoin books (redemptions due,
   refill: :mod:`margincall.sim.stablecoin_book`), then the **arbitrageurs' orders**
   (:mod:`margincall.agents.cross_arb`), then per book its **takers** in the single-venue
   kernel's order: momentum (its share of ``[momentum]``), noise, the population's stop-losses
   (a leg's stop closes that leg), the intraday entrants due; each book's batch matched as it
   arrives;
4. **marks**: every book's premium sample, then every venue's marks by its rulebook, and its
   collateral assets priced by a spot index (BTC) marked again once that index has moved by
   ``REMARK_MOVE``; before its stablecoins' marks, the venue's desk sells in their books what
   its conversions (R7) took in the last liquidations, and a book's price that has moved by
   ``REMARK_MOVE`` marks its asset. A venue marking by Hyperliquid's rule is first handed, per
   instrument, the lower weighted median of the other venues' book mids of the asset as they
   stand after phase 3 (weights ``perp_mid_weight``; a book with an empty side has no mid), its
   perp-mid part (:func:`perp_mid_sources`);
5. **funding**: at the end of each of a venue's funding intervals (its rulebook's), every
   instrument's payments (:meth:`PortfolioVenue.settle_funding`);
6. **liquidations** per venue (:meth:`PortfolioVenue.run_liquidations`);
7. **snapshots**: every ``run.snapshot_seconds``, each venue's snapshot events
   (:meth:`PortfolioVenue.snapshot`: depth, open interest, fund, accounts, funding per
   instrument, which the candles read) and, kept by the kernel for the summary, each venue's
   mark, mid and ±1% depth per asset.

Randomness comes from one :class:`~margincall.core.rng.RngTree`: ``index`` for the prices,
``venue.<name>`` for each venue's engine, ``population.<venue>`` for its population,
``noise.<venue>.<symbol>``, ``momentum.<venue>.<symbol>`` and ``arbitrage`` for the agents; the same scenario and seed give
byte-identical event logs in any process.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

import numpy as np

from margincall.agents.cross_arb import CrossArbitrageurs
from margincall.agents.factor_index import FactorIndex
from margincall.agents.makers import Makers
from margincall.agents.orders import Orders
from margincall.agents.population import StopBook
from margincall.agents.takers import Momentum, Noise, spot_flow_usd, stop_orders
from margincall.agents.view import MarketView, read_only
from margincall.core.errors import InvariantViolation
from margincall.core.rng import RngTree
from margincall.events.schema import EventKind
from margincall.sim import scenario as single
from margincall.sim.market import MarketScenario
from margincall.sim.market_population import (
    Legs,
    collateral_prices,
    entrants_bound,
    open_entrants,
    open_population,
)
from margincall.sim.news import News
from margincall.sim.stablecoin_book import PEG, TICK_MICROS, UNIT, StablecoinBook
from margincall.venue import book as bk
from margincall.venue import mark as mk
from margincall.venue.book_queries import depth_ticklots
from margincall.venue.margin_int import PPM, mul_div_floor
from margincall.venue.portfolio import PortfolioVenue

NS = 1_000_000_000
Progress = Callable[[int, int, int], None]
NOISE_ACCOUNTS = 20  # noise traders per venue (cross accounts trading every instrument)
# the single-venue feb-2026.toml's noise and arbitrage (calibration) per dollar of its book's
# ±1% depth ($90M): $1.5B of noise an hour in $50,000 orders; $2M per bps, at most $40M a step
NOISE_TURNOVER = 1.5e9 / 90e6  # noise volume per hour, in multiples of the book's ±1% depth
NOISE_ORDER = 50e3 / 90e6  # median noise order, x ±1% depth
ARB_USD_PER_BPS = 2e6 / 90e6  # arbitrage notional per bps beyond the threshold, x ±1% depth
ARB_MAX_PER_STEP = 40e6 / 90e6  # most arbitrage notional per step and venue, x ±1% depth
# a collateral asset's move that marks it again: each mark re-evaluates every account holding it
# (a venue marks it every second or so; 0.05% of a holding's value is within its 5% haircut)
REMARK_MOVE = 0.0005


def scaled_accounts(sc: MarketScenario, accounts: int | None) -> list[int]:
    """Accounts per population: the scenario's, or ``accounts`` in all in the same shares."""
    own = [p.accounts for p in sc.populations]
    if accounts is None or not own:
        return own
    total = sum(own)
    return [max(100, round(accounts * a / total)) for a in own]


REQUOTE_SPREAD = 20e-4
"""A maker re-quotes when the book's spread is wider than this (its inner levels were taken:
its own rule re-quotes only when half its ladder is gone, and with one maker per book the
ladder's small inner levels would otherwise stay empty)."""


def _eaten_inside(view: MarketView) -> bool:
    bid, ask = view.best_bid, view.best_ask
    return bid <= 0 or ask <= 0 or (ask - bid) > REQUOTE_SPREAD * (ask + bid) / 2


@dataclass
class HeldStablecoin:
    """A venue's stablecoin with a book there: its place in the venue's collateral arrays and
    the price (ticks) it was last marked at."""

    asset: str
    place: int
    book: StablecoinBook
    marked: int = PEG


class MarketVenueRun:
    """One venue of the market and its agents."""

    def __init__(self, sc: MarketScenario, vi: int, accounts: int, tree: RngTree, log: dict):
        """``log``: the venue's ``keep_events`` and ``reports_only``
        (:class:`~margincall.venue.portfolio.PortfolioVenue`)."""
        spec = sc.venues[vi]
        self.name = spec.name
        rb = sc.rulebook(spec.name)  # with the venue's fees
        prices = {}
        for sym in spec.instruments:
            scale = rb.instrument(sym).scale
            prices[sym] = scale.ticks_to_price(
                scale.price_to_ticks(sc.asset(sym).start_price, "nearest")
            )
        pop = next((p for p in sc.populations if p.venue == spec.name), None)
        momentum = [round(sc.momentum.accounts * sc.momentum_share(spec.name, s)) for s in prices]
        extra = 4 + NOISE_ACCOUNTS + sum(momentum)
        if pop is not None:
            extra += entrants_bound(sc, pop, accounts)
        funds = {rb.fund_for(sym) for sym in prices}
        coll = {} if pop is None else collateral_prices(sc, pop, rb)
        self.pv = pv = PortfolioVenue(
            rb, prices, capacity=accounts + extra,
            insurance_fund_usd=spec.insurance_fund_usd / len(funds), collateral_prices=coll,
            seed=tree.child(f"venue.{spec.name}"), price_window=(0.3, 2.0), **log,
        )  # fmt: skip
        # collateral priced by an asset's spot index: (asset, the index's place, price marked)
        self.remarks = [
            [name, sc.symbols.index(sym), price]
            for name, price in coll.items()
            if (sym := sc.collateral_symbol(name)) is not None
        ]
        how = sc.stablecoin_makers
        self.stablecoins = [
            HeldStablecoin(b.asset, pv.assets.index(b.asset), StablecoinBook(
                b.depth_1pct_usd, b.capital_usd, how.refill_minutes * 60, how.redeem_minutes * 60,
            ))
            for b in sc.stablecoin_books if b.venue == spec.name
        ]  # fmt: skip
        self.symbols = pv.symbols
        self.listing = [sc.listing(spec.name, s) for s in prices]
        oi = sum(x.open_interest_usd for x in self.listing)
        self.desk = pv.open_account(2 * oi, leverage=1)
        maker_capital = sum(100 * x.depth_1pct_usd for x in self.listing)
        self.maker = pv.open_account(maker_capital, leverage=1)  # no tier limit
        self.maker_start = pv.margin(self.maker)[0]
        self.noise_ids = pv.open_accounts(
            np.full(NOISE_ACCOUNTS, int(5e6 * 1e6), np.int64), leverage=5
        )
        steps = max(1, round(sc.run.hours * 3600 / sc.run.step_seconds))
        self.legs, self.entrants = Legs.empty(), [None] * len(self.symbols)
        if pop is not None:
            ptree = tree.child(f"population.{spec.name}")
            self.legs = open_population(sc, pop, pv, self.desk, ptree, accounts)
            self.entrants = open_entrants(sc, pop, pv, self.legs, ptree, steps)
        self.stops = [StopBook(*self.legs.of(j)) for j in range(len(self.symbols))]
        self.makers, self.noise, self.momentum = [], [], []
        for j, x in enumerate(self.listing):
            sym = self.symbols[j]
            self.makers.append(Makers(sc.book_makers(spec.name, sym), np.array([self.maker]), 0.0))
            npar = single.Noise(
                accounts=NOISE_ACCOUNTS, usd_per_hour=NOISE_TURNOVER * x.depth_1pct_usd,
                order_usd=max(100.0, NOISE_ORDER * x.depth_1pct_usd), capital_usd=5e6,
            )  # fmt: skip
            gen = tree.generator(f"noise.{spec.name}.{sym}")
            self.noise.append(Noise(npar, self.noise_ids, gen))
            self.momentum.append(self._momentum(sc, j, momentum[j], tree))
        self.arrays = [
            tuple(read_only(a) for a in (v.acc.pos, v.acc.wallet, v.acc.cost,
                                         v.book.open_buy_lots, v.book.open_sell_lots))
            for v in pv.legs
        ]  # fmt: skip

    def _momentum(self, sc: MarketScenario, j: int, n: int, tree: RngTree) -> Momentum | None:
        """Book ``j``'s trend followers: ``n`` cross accounts trading it alone, with its share
        of ``[momentum]``'s target and trading per step."""
        if n == 0:
            return None
        p, sym = sc.momentum, self.symbols[j]
        share = sc.momentum_share(self.name, sym)
        params = p.model_copy(update={"usd_per_bps": p.usd_per_bps * share,
                                      "max_usd_per_step": p.max_usd_per_step * share})  # fmt: skip
        lev = min(p.leverage, int(self.pv.legs[j].instrument.tiers[0].max_leverage))
        ids = self.pv.open_accounts(np.full(n, int(p.capital_usd * 1e6), np.int64), leverage=lev)
        gen = tree.generator(f"momentum.{self.name}.{sym}")
        return Momentum(params, ids, float(sc.run.step_seconds), gen)

    def remark_collateral(self, prices, now_ns: int) -> None:
        """Collateral marked again once its price has moved by ``REMARK_MOVE`` since its last
        mark; the venue re-evaluates every account holding it. An asset priced by a spot index:
        every price source reads the index. A stablecoin with a book on the venue: the desk
        first sells there the units the venue's conversions took (whole units), no lower than
        the rate its conversions pay now (the price less the conversion buffer); the rest waits.
        The book's price is the ``own_book`` source, its index and redemption $1."""
        pf = self.pv.pf
        for held in self.stablecoins:
            c, book = held.place, held.book
            # the rate the venue's conversions pay (portfolio_pass._settle_loss's)
            rate = mul_div_floor(int(pf.price[c]), PPM - int(pf.buffer_ppm[c]), PPM)
            book.sell(int(pf.converted[c]) // UNIT - book.sold, now_ns, -(-rate // TICK_MICROS))
            p = book.price_ticks()
            if abs(p - held.marked) >= REMARK_MOVE * held.marked:
                own = Decimal(p) / PEG
                self.pv.set_collateral_sources(held.asset, own_book=own, index=1, redemption=1)
                held.marked = p
        for row in self.remarks:
            name, k, last = row
            p = float(prices[k])
            if abs(p - last) >= REMARK_MOVE * last:
                px = Decimal(f"{p:.6f}")
                self.pv.set_collateral_sources(name, own_book=px, index=px, redemption=px)
                row[2] = p

    def takers(self, j: int, view: MarketView, orders: Orders, step: int) -> None:
        """Book ``j``'s takers, in the single-venue kernel's order: momentum, noise, stop-losses,
        intraday entrants."""
        mom = self.momentum[j]
        if mom is not None:
            mom.act(view, orders, cash=self.pv.pf.cash[mom.accounts])
        self.noise[j].act(view, orders)
        stop_orders(view, self.stops[j], orders)
        ent = self.entrants[j]
        if ent is not None:
            due, side = ent.orders(step, view.mark)
            if due.stop > due.start:
                orders.extend_market(ent.ids[due], side, ent.lots[due], False)

    def view(self, j: int, step_seconds: float) -> MarketView:
        v = self.pv.legs[j]
        bid, ask = bk.best_prices(v.book)
        return MarketView(
            v.now_ns, step_seconds, v.index_ticks, v.mark_ticks, v.last_ticks, bid, ask,
            float(v.scale.tick_size), float(v.scale.lot_size), v.k, *self.arrays[j],
        )  # fmt: skip

    def maker_loss(self) -> float:
        """The venue's maker account's loss so far over every book, USD."""
        return (self.maker_start - self.pv.margin(self.maker)[0]) / 1e6

    def maker_loss_capital(self, view: MarketView, loss: float) -> float:
        """The capital to hand the makers of ``view``'s book so that their stress is the
        account's whole ``loss`` (:meth:`maker_loss`): ``capital - leg equity`` = the loss over
        every book."""
        a = self.maker
        leg_eq = int(view.wallet[a]) + int(view.pos[a]) * view.mark * view.k - int(view.cost[a])
        return loss + leg_eq / 1e6

    def mid_usd(self, j: int) -> float:
        v = self.pv.legs[j]
        bid, ask = bk.best_prices(v.book)
        if bid <= 0 or ask <= 0:
            return float("nan")
        return (bid + ask) / 2 * float(v.scale.tick_size)

    def depth_usd(self, j: int) -> float:
        """Bids within 1% below and asks within 1% above the mid, USD."""
        v = self.pv.legs[j]
        bid, ask = bk.best_prices(v.book)
        if bid <= 0 or ask <= 0:
            return 0.0
        mid = (bid + ask) // 2
        b = depth_ticklots(v.book, 1, bid, int(mid * 0.99))
        s = depth_ticklots(v.book, -1, ask, int(mid * 1.01))
        return (int(b) + int(s)) * v.k / 1e6


PerpMidSource = tuple[int, int, int, int, int]
"""(venue, instrument, weight, num, den): a book whose mid counts as floor((bid + ask) x num /
den) ticks of the instrument it is handed to (half the ratio of the two tick sizes, exact)."""


def perp_mid_sources(
    sc: MarketScenario, venues: list[MarketVenueRun]
) -> list[list[list[PerpMidSource]]]:
    """Per venue and instrument, the other venues' books of the same asset whose mids make its
    perp-mid part, with their ``perp_mid_weight``: for venues marking by Hyperliquid's rule
    (which weighs the CEX perp mids, Binance 3, OKX 2, Bybit 2, Gate 1, MEXC 1); empty lists for
    the others, whose rules have no such part."""
    out: list[list[list[PerpMidSource]]] = []
    for vi, vr in enumerate(venues):
        rows: list[list[PerpMidSource]] = [[] for _ in vr.symbols]
        out.append(rows)
        if vr.pv.rulebook.mark != "hyperliquid":
            continue
        for j, sym in enumerate(vr.symbols):
            tick = Fraction(vr.pv.legs[j].scale.tick_size)
            for vo, other in enumerate(venues):
                if vo != vi and sym in other.symbols:
                    jo = other.symbols.index(sym)
                    r = Fraction(other.pv.legs[jo].scale.tick_size) / (2 * tick)
                    w = sc.venues[vo].perp_mid_weight
                    rows[j].append((vo, jo, w, r.numerator, r.denominator))
    return out


class MarketSimulation:
    """A market scenario set up on its venues, ready to run (see the module docstring)."""

    def __init__(
        self,
        sc: MarketScenario,
        seed: int,
        *,
        accounts: int | None = None,
        keep_events: bool = True,
        reports_only: bool = False,
    ) -> None:
        self.scenario, self.seed = sc, seed
        tree = RngTree(seed)
        run = sc.run
        self.steps = max(1, round(run.hours * 3600 / run.step_seconds))
        self.start_ns = int(run.start.timestamp()) * NS
        per_pop = dict(
            zip((p.venue for p in sc.populations), scaled_accounts(sc, accounts), strict=True)
        )
        self.venues: list[MarketVenueRun] = []
        log = {"keep_events": keep_events, "reports_only": reports_only}
        for vi, spec in enumerate(sc.venues):
            vr = MarketVenueRun(sc, vi, per_pop.get(spec.name, 0), tree, log)
            vr.pv.advance(self.start_ns)
            self.venues.append(vr)
        arb_ids = [vr.pv.open_account(0, leverage=1) for vr in self.venues]
        self.arb = CrossArbitrageurs(sc.arbitrage, arb_ids, tree.generator("arbitrage"))
        for vr, a in zip(self.venues, arb_ids, strict=True):
            vr.pv.deposit(a, Decimal(self.arb.deposit_micros) / 10**6)
        self.fund_start = [
            [float(leg.insurance_fund_usd) for leg in vr.pv.legs] for vr in self.venues
        ]
        self.money_in = sum(vr.pv.deposits for vr in self.venues) + self.arb.money_micros()
        self.index = FactorIndex(
            sc.factor, sc.assets, step_seconds=run.step_seconds, steps=self.steps,
            tree=tree.child("index"),
        )  # fmt: skip
        self.symbols = sc.symbols
        self.liquidations = 0
        minutes = self.steps * run.step_seconds // run.snapshot_seconds + 1
        shape = (minutes, len(self.venues), len(self.symbols))
        self.snap_ts = np.zeros(minutes, np.int64)
        self.marks = np.full(shape, np.nan)
        self.mids = np.full(shape, np.nan)
        self.lasts = np.full(shape, np.nan)
        self.depth = np.full(shape, np.nan)
        self.index_path = np.full((minutes, len(self.symbols)), np.nan)
        self._snaps = 0
        self._hedge_pos = np.zeros((len(self.venues), len(self.symbols)))
        self._perp_mids = perp_mid_sources(sc, self.venues)
        self._snapshot()

    @property
    def end_ns(self) -> int:
        return self.start_ns + self.steps * self.scenario.run.step_seconds * NS

    def check_market(self) -> None:
        """Every venue's invariants, and the market's money: what the venues hold from
        deposits plus the arbitrageurs' treasury and transfers in flight is what came in."""
        for vr in self.venues:
            vr.pv.check_invariants()
            for held in vr.stablecoins:
                held.book.check()
        held = sum(vr.pv.deposits for vr in self.venues) + self.arb.money_micros()
        if held != self.money_in:
            raise InvariantViolation(
                f"market money not conserved: {held} micro-dollars held, {self.money_in} came in"
            )

    def _snapshot(self) -> None:
        i = self._snaps
        self.snap_ts[i] = self.venues[0].pv.legs[0].now_ns
        for vi, vr in enumerate(self.venues):
            vr.pv.snapshot()  # the event log's snapshots: the candles' open interest, depth, fund
            for j, sym in enumerate(vr.symbols):
                a = self.symbols.index(sym)
                leg = vr.pv.legs[j]
                self.marks[i, vi, a] = leg.mark_ticks * float(leg.scale.tick_size)
                self.mids[i, vi, a] = vr.mid_usd(j)
                self.lasts[i, vi, a] = (leg.last_ticks or leg.mark_ticks) * float(
                    leg.scale.tick_size
                )
                self.depth[i, vi, a] = vr.depth_usd(j)
        self.index_path[i] = self.index.prices
        self._snaps += 1

    def _hedges(self) -> np.ndarray:
        """Per asset, spot sold for the perp the arbitrageurs bought since the last step."""
        flows = np.zeros(len(self.symbols))
        for vi, vr in enumerate(self.venues):
            a = self.arb.accounts[vi]
            for j, sym in enumerate(vr.symbols):
                k = self.symbols.index(sym)
                leg = vr.pv.legs[j]
                pos = int(leg.acc.pos[a])
                filled = pos - self._hedge_pos[vi, k]
                self._hedge_pos[vi, k] = pos
                flows[k] -= filled * leg.mark_ticks * leg.k / 1e6
        return flows

    def _hand_perp_mids(self, vi: int) -> None:
        """Venue ``vi``'s perp-mid part of the mark, per instrument it has sources for: the lower
        weighted median of their current book mids, in its ticks (0: no source has a mid)."""
        vr = self.venues[vi]
        for j, sources in enumerate(self._perp_mids[vi]):
            if not sources:
                continue
            ticks, weights = [], []
            for vo, jo, w, num, den in sources:
                bid, ask = bk.best_prices(self.venues[vo].pv.legs[jo].book)
                if bid > 0 and ask > 0:
                    ticks.append((bid + ask) * num // den)
                    weights.append(w)
            vr.pv.set_external_mid(vr.symbols[j], mk.weighted_median_ticks(ticks, weights))

    def _arb_orders(self, books: dict) -> None:
        """The arbitrageurs' orders of every asset into the venues' batches."""
        for vi, vr in enumerate(self.venues):
            e, m = vr.pv.margin(self.arb.accounts[vi])
            self.arb.observe(vi, e, m)
        for k, sym in enumerate(self.symbols):
            mids = np.full(len(self.venues), np.nan)
            sizes = np.zeros((len(self.venues), 2))
            for vi, vr in enumerate(self.venues):
                if sym in vr.symbols:
                    j = vr.symbols.index(sym)
                    mids[vi] = vr.mid_usd(j)
                    d = vr.listing[j].depth_1pct_usd
                    sizes[vi] = (ARB_USD_PER_BPS * d, ARB_MAX_PER_STEP * d)
            for vi, side, usd, limit in self.arb.orders(self.index.prices[k], mids, sizes):
                vr = self.venues[vi]
                j = vr.symbols.index(sym)
                leg = vr.pv.legs[j]
                tick = float(leg.scale.tick_size)
                lots = int(usd * 1e6 // (leg.mark_ticks * leg.k))
                books[vi, j].ioc(self.arb.accounts[vi], side, lots, int(limit / tick))

    def run(self, progress: Progress | None = None, check_every: int = 0) -> None:
        """Run every step (module docstring); ``check_every`` > 0 checks the market's
        invariants every that many steps (tests)."""
        sc = self.scenario
        dt = sc.run.step_seconds
        news = News(sc.flow.shocks)
        trig = int(EventKind.LIQUIDATION_TRIGGERED)
        every = max(1, self.steps // 200)
        books = {
            (vi, j): Orders() for vi, vr in enumerate(self.venues) for j in range(len(vr.symbols))
        }
        intervals = [int(vr.pv.rulebook.funding_interval_hours * 3600) for vr in self.venues]
        for step in range(1, self.steps + 1):
            elapsed = step * dt
            hour = (elapsed - dt) / 3600
            now = self.start_ns + elapsed * NS
            for vr in self.venues:  # 1. clock
                vr.pv.advance(now)
            for t in self.arb.transfers(now):
                self.venues[t.venue].pv.deposit(
                    self.arb.accounts[t.venue], Decimal(t.micros) / 10**6
                )
            jump = news.jump(elapsed, dt)  # 2. factor and asset indices
            prices = self.index.step(
                spot_flow_usd(sc.flow.spot, hour, dt), jump, self._hedges().tolist()
            )
            for vr in self.venues:
                for j, sym in enumerate(vr.symbols):
                    leg = vr.pv.legs[j]
                    lo, hi = leg.min_tick + 1, leg.max_tick - 1
                    ticks = min(
                        max(
                            round(prices[self.symbols.index(sym)] / float(leg.scale.tick_size)), lo
                        ),
                        hi,
                    )
                    vr.pv.set_index_ticks(sym, ticks)
            for o in books.values():  # 3. makers, arbitrageurs, noise
                o.clear()
            # one view per book: nothing reaches a venue before the orders are sent below
            views = [[vr.view(j, float(dt)) for j in range(len(vr.symbols))] for vr in self.venues]
            for vi, vr in enumerate(self.venues):
                loss = vr.maker_loss()
                for j, view in enumerate(views[vi]):
                    vr.makers[j].capital = vr.maker_loss_capital(view, loss)
                    if _eaten_inside(view):
                        vr.makers[j].centre[:] = 0.0  # the inner levels were taken: re-quote
                    vr.makers[j].act(view, books[vi, j])
                for held in vr.stablecoins:
                    held.book.quote(now, dt)
            self._arb_orders(books)
            for vi, vr in enumerate(self.venues):
                for j, sym in enumerate(vr.symbols):
                    vr.takers(j, views[vi][j], books[vi, j], step)
                    o = books[vi, j]
                    if len(o) or o.cancel_first:
                        vr.pv.submit_orders(sym, **o.arrays(), cancel_first=o.cancel_first)
            for vi, vr in enumerate(self.venues):  # 4. marks, collateral prices
                vr.pv.sample_premiums()
                self._hand_perp_mids(vi)
                vr.pv.update_marks()
                vr.remark_collateral(prices, now)
            for vr, interval in zip(self.venues, intervals, strict=True):  # 5. funding
                if elapsed % interval == 0:
                    vr.pv.settle_funding()
            for vr in self.venues:  # 6. liquidations
                ev = vr.pv.run_liquidations()
                self.liquidations += int(np.count_nonzero(ev["kind"] == trig))
            if elapsed % sc.run.snapshot_seconds == 0:  # 7. snapshots
                self._snapshot()
            if check_every and step % check_every == 0:
                self.check_market()
            if progress is not None and (step % every == 0 or step == self.steps):
                progress(step, self.steps, self.liquidations)
        self.check_market()

    def digest(self) -> str:
        """SHA-256 over the venues' event-log digests, in the scenario's venue order."""
        return hashlib.sha256(",".join(vr.pv.digest() for vr in self.venues).encode()).hexdigest()
