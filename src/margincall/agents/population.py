"""Leveraged trader populations as arrays: who holds what, at which entry, leverage and stop.

Two cohorts (reference: cascade-models.md §3.4): retail (many small accounts at 10-125x, long
biased) and capital (few large accounts, mostly under 7x). Entries are spread over the days
before the start along the scenario's price drift, so liquidation prices are spread out;
accounts whose liquidation or stop price the market has already passed are gone (they were
closed on the way), as in a real market. The arbitrage desk takes the other side of the net
position (cash-and-carry: short perp, long spot), so open interest balances.

Positions are opened as block trades at their entry price (the venue's mark set to that price
while they open), then the venue's prices are moved to the start. Each account's leverage
setting is its drawn leverage rounded up and fitted to the venue's maximum
(:func:`max_leverage`).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from margincall.core import libm
from margincall.core.errors import InvalidInputError


@dataclass
class Cohorts:
    """What was opened: per account, in venue ids."""

    ids: np.ndarray  # account ids
    cohort: np.ndarray  # 0 retail, 1 capital
    side: np.ndarray  # +1 long, -1 short
    lots: np.ndarray  # position size, lots
    entry: np.ndarray  # entry price, ticks
    leverage: np.ndarray  # leverage at entry (float)
    liq_price: np.ndarray  # approximate liquidation price at the start, USD (the map)
    stop: np.ndarray  # stop price in ticks, 0 for none
    entrants: Entrants | None = None  # accounts opening during the run


def max_leverage(instrument) -> int:
    """The largest leverage setting the venue accepts for ``instrument``: its first margin
    tier's."""
    return int(instrument.tiers[0].max_leverage)


def fit_leverage(chosen: int, instrument) -> int:
    """A leverage chosen by the simulator or a preset, fitted to the venue:
    ``min(chosen, max_leverage(instrument))``."""
    return min(int(chosen), max_leverage(instrument))


def tier_terms(instrument, notional_usd: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The maximum leverage and maintenance rate of the tier each notional (USD) falls in."""
    floors = np.array([float(t.floor_usd) for t in instrument.tiers])
    tier = np.clip(np.searchsorted(floors, notional_usd, side="right") - 1, 0, len(floors) - 1)
    max_lev = np.array([float(t.max_leverage) for t in instrument.tiers])
    mmr = np.array([float(t.mmr) for t in instrument.tiers])
    return max_lev[tier], mmr[tier]


def draw_cohort(c, n: int, gross_usd: float, start: float, rng: np.random.Generator):
    """Draw ``n`` accounts of cohort ``c`` holding about ``gross_usd`` of notional (long plus
    short). Returns a dict of arrays: side, notional (USD), leverage (before the tier cap),
    entry (USD), stop distance (fraction, 0 for none), isolated."""
    size = rng.lognormal(0.0, c.size_sigma, n)
    u = rng.random(n)
    tau = rng.random(n)
    noise = rng.normal(0.0, 0.015, n) * np.sqrt(tau)
    dist = rng.uniform(c.stop_distance_min, c.stop_distance_max, n)
    has_stop = rng.random(n) < c.stop_loss_share
    return {
        "side": np.where(rng.random(n) < c.long_share, 1, -1),
        "notional": size / size.sum() * gross_usd if n else size,
        "leverage": _leverage(c, u, c.leverage_shape),
        # entries over the last entry_days, along the drift (older entries at the older price)
        "entry": start * libm.exp(-math.log1p(c.entry_drift) * tau + noise),
        "stop": np.where(has_stop, dist, 0.0),
        "isolated": rng.random(n) < c.isolated_share,
    }


def _leverage(c, u: np.ndarray, shape: float) -> np.ndarray:
    """Cohort ``c``'s leverage law at uniforms ``u``: ``min·(max/min)^(u^shape)``."""
    return c.leverage_min * libm.power(c.leverage_max / c.leverage_min, libm.power(u, shape))


def _margin_terms(d: dict, instrument) -> tuple[np.ndarray, np.ndarray]:
    """Leverage capped by the tier of each notional, and the approximate liquidation price
    (isolated one-way formula, cascade-models.md §0)."""
    max_lev, mmr = tier_terms(instrument, d["notional"])
    lev = np.minimum(d["leverage"], max_lev)
    e, side = d["entry"], d["side"]
    liq = np.where(side > 0, e * (1 - 1 / lev) / (1 - mmr), e * (1 + 1 / lev) / (1 + mmr))
    return lev, liq


def _balanced_scale(d: dict, open_interest: float) -> float:
    longs = d["notional"][d["side"] > 0].sum()
    shorts = d["notional"][d["side"] < 0].sum()
    return open_interest / max(longs, shorts)


def open_population(scenario, venue, desk: int, rng_tree) -> Cohorts:
    """Open both cohorts in ``venue`` against the arbitrage ``desk`` account."""
    pop, market = scenario.population, scenario.market
    n = scenario.run.accounts
    start = market.start_price
    n_cap = round(n * pop.capital.share_of_accounts)
    parts = []
    for k, (c, m) in enumerate(((pop.retail, n - n_cap), (pop.capital, n_cap))):
        gross = 2 * market.open_interest_usd * c.share_of_open_interest
        d = draw_cohort(c, m, gross, start, rng_tree.generator(f"population.{k}"))
        d["cohort"] = np.full(m, k)
        parts.append(d)
    d = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
    if len(d["side"]) == 0 or _balanced_scale(d, 1.0) == np.inf:
        raise InvalidInputError("population", 0, "cohorts holding some open interest")
    # accounts whose liquidation or stop the market has already passed were closed on the way
    d["notional"] *= _balanced_scale(d, market.open_interest_usd)
    lev, liq = _margin_terms(d, venue.instrument)
    side, stop = d["side"], d["stop"]
    stop_px = np.where(side > 0, d["entry"] * (1 - stop), d["entry"] * (1 + stop))
    alive = np.where(side > 0, liq < start * 0.995, liq > start * 1.005)
    alive &= (stop == 0) | np.where(side > 0, stop_px < start * 0.999, stop_px > start * 1.001)
    d = {key: v[alive] for key, v in d.items()}
    # the survivors hold the target open interest (the desk balances the sides)
    d["notional"] *= _balanced_scale(d, market.open_interest_usd)
    lev, liq = _margin_terms(d, venue.instrument)
    side, entry, iso = d["side"], d["entry"], d["isolated"]
    stop = np.where(
        d["stop"] > 0, np.where(side > 0, entry * (1 - d["stop"]), entry * (1 + d["stop"])), 0.0
    )
    scale = venue.scale
    tick, lot = float(scale.tick_size), float(scale.lot_size)
    entry_t = np.clip(
        np.round(entry / tick).astype(np.int64), venue.min_tick + 1, venue.max_tick - 1
    )
    lots = np.maximum(np.round(d["notional"] / (entry_t * tick) / lot).astype(np.int64), 1)
    k = venue.k
    setting = np.clip(np.ceil(lev).astype(np.int64), 1, max_leverage(venue.instrument))
    value = lots * entry_t * k  # micro-dollars at entry
    deposits = np.maximum((value / lev).astype(np.int64), -(-value // setting)) + value // 2000
    ids = np.empty(len(side), np.int64)
    chunk = 1_000_000
    for i in range(0, len(side), chunk):
        ids[i : i + chunk] = venue.open_accounts(
            deposits[i : i + chunk], isolated=iso[i : i + chunk], leverage=setting[i : i + chunk]
        )
    # block trades by entry price in 0.05% buckets, farthest from the start first, so the last
    # trade (the venue's last price) is the one nearest the start
    bucket = np.round(libm.log(entry_t) / 0.0005).astype(np.int64)
    b0 = round(math.log(start / tick) / 0.0005)
    order = np.lexsort((ids, bucket, -np.abs(bucket - b0)))
    cuts = np.flatnonzero(np.diff(bucket[order])) + 1  # buckets are contiguous in this order
    for grp in np.split(order, cuts):
        price_t = int(np.median(entry_t[grp]))
        venue.set_index_price(scale.ticks_to_price(price_t))
        venue.update_mark()
        venue.block_trades(ids[grp], side[grp] * lots[grp], scale.ticks_to_price(price_t), desk)
        entry_t[grp] = price_t
    venue.set_index_price(scale.ticks_to_price(scale.price_to_ticks(start, "nearest")))
    venue.update_mark()
    stop_t = np.where(stop > 0, np.round(stop / tick), 0).astype(np.int64)
    cohorts = Cohorts(ids, d["cohort"], side, lots, entry_t, lev, liq, stop_t)
    cohorts.entrants = open_entrants(scenario, venue, n_cap, rng_tree)
    return cohorts


TREND_SECONDS = 3600
"""The move a trend-following entrant follows: the book's mark over the last hour."""


@dataclass
class Entrants:
    """Accounts that open their position during the run, with a market order at a drawn
    time: dip buyers and breakdown sellers, the fresh leverage a bounce or the next leg liquidates.
    Sorted by entry step. ``chase`` marks those who, instead of their drawn side, open on the
    side of the mark's move over the last `TREND_SECONDS` (``window`` steps): short after a
    fall, long after a rise (none before an hour has passed, or on no move)."""

    ids: np.ndarray
    side: np.ndarray
    lots: np.ndarray
    step: np.ndarray  # kernel step of the entry (1-based)
    chase: np.ndarray | None = None
    window: int = 1
    next: int = 0
    marks: deque = field(init=False)  # the last ``window + 1`` marks, kept while some chase

    def __post_init__(self) -> None:
        self.marks = deque(maxlen=self.window + 1)

    def due(self, step: int) -> slice:
        """The entrants whose entry step has come (each once)."""
        j = int(np.searchsorted(self.step, step, side="right"))
        sl = slice(self.next, j)
        self.next = j
        return sl

    def orders(self, step: int, mark: int) -> tuple[slice, np.ndarray]:
        """Each step, with the book's ``mark`` (ticks): the entrants due and their sides.

        Example (a window of 2 steps; both drawn long, the first one a trend follower):
            >>> one = np.array([1, 1])
            >>> e = Entrants(np.array([7, 8]), one, one, np.array([3, 4]),
            ...              np.array([True, False]), window=2)
            >>> [e.orders(s, m)[1].tolist() for s, m in ((1, 100), (2, 95), (3, 90), (4, 92))]
            [[], [], [-1], [1]]
        """
        sl = self.due(step)
        side = self.side[sl]
        if self.chase is None:
            return sl, side
        self.marks.append(mark)
        move = mark - self.marks[0] if len(self.marks) > self.window else 0
        if move and sl.stop > sl.start:
            side = np.where(self.chase[sl], 1 if move > 0 else -1, side)
        return sl, side


def open_entrants(scenario, venue, n_cap: int, rng_tree) -> Entrants:
    """Open (funded, flat) the intraday entrants of both cohorts."""
    pop, market, run = scenario.population, scenario.market, scenario.run
    steps = max(1, round(run.hours * 3600 / run.step_seconds))
    counts = (run.accounts - n_cap, n_cap)
    d = draw_entrants(
        pop, counts, market.open_interest_usd, market.start_price, steps, venue, rng_tree
    )
    if len(d["deposit"]) == 0:
        empty = np.empty(0, np.int64)
        return Entrants(empty, empty, empty, empty)
    ids = venue.open_accounts(d["deposit"], isolated=d["isolated"], leverage=d["setting"])
    return sorted_entrants(ids, d, run.step_seconds)


def sorted_entrants(ids: np.ndarray, d: dict, step_seconds: float) -> Entrants:
    """The :class:`Entrants` of :func:`draw_entrants`' draws ``d`` (opened as accounts ``ids``),
    sorted by entry step."""
    o = np.argsort(d["step"], kind="stable")
    chase = d["chase"]
    return Entrants(ids[o], d["side"][o], d["lots"][o], d["step"][o],
                    None if chase is None else chase[o],
                    max(1, round(TREND_SECONDS / step_seconds)))  # fmt: skip


def draw_entrants(pop, counts, open_interest: float, start: float, steps: int, venue, rng_tree):
    """The intraday entrants of cohorts ``pop`` (retail, capital) beside ``counts`` accounts of
    each on one instrument of ``venue`` (a :class:`~margincall.venue.engine.Venue`: its
    instrument, scale and lot value) holding ``open_interest``: as many per cohort as
    ``intraday_share`` of its accounts, each as large as the cohort's average, opening at a
    step drawn in ``[1, steps]`` (streams ``population.<cohort>.intraday``), ``intraday_trend_share``
    of them following the trend (:class:`Entrants`). Returns arrays: deposit (micro-dollars),
    isolated, setting (leverage), side, lots, step, chase (``None`` when no cohort follows)."""
    tick, lot = float(venue.scale.tick_size), float(venue.scale.lot_size)
    parts = []
    for k, (c, m) in enumerate(((pop.retail, counts[0]), (pop.capital, counts[1]))):
        e = round(m * c.intraday_share)
        if e == 0:
            continue
        rng = rng_tree.generator(f"population.{k}.intraday")
        gross = 2 * open_interest * c.share_of_open_interest * e / max(m, 1)
        d = draw_cohort(c, e, gross, start, rng)
        d["entry"] = np.full(e, start)
        side = np.where(rng.random(e) < c.intraday_long_share, 1, -1)
        step = rng.integers(1, steps + 1, e)
        chase = rng.random(e) < c.intraday_trend_share
        if c.intraday_trend_leverage_shape is not None:  # the chasers' own leverage law
            chased = _leverage(c, rng.random(e), c.intraday_trend_leverage_shape)
            d["leverage"] = np.where(chase, chased, d["leverage"])
        lev, _ = _margin_terms(d, venue.instrument)
        parts.append((d["notional"], lev, side, step, d["isolated"], chase))
    if not parts:
        empty = np.empty(0, np.int64)
        return dict(deposit=empty, isolated=np.empty(0, bool), setting=empty, side=empty,
                    lots=empty, step=empty, chase=None)  # fmt: skip
    notional, lev, side, step, iso, chase = (
        np.concatenate([p[i] for p in parts]) for i in range(6)
    )
    lots = np.maximum(np.round(notional / start / lot).astype(np.int64), 1)
    setting = np.clip(np.ceil(lev).astype(np.int64), 1, max_leverage(venue.instrument))
    value = lots * round(start / tick) * venue.k
    deposit = np.maximum((value / lev).astype(np.int64), -(-value // setting)) + value // 500
    return dict(deposit=deposit, isolated=iso, setting=setting, side=side, lots=lots, step=step,
                chase=chase if chase.any() else None)  # fmt: skip


class StopBook:
    """Stop-loss orders of a population, sorted by trigger price: each step costs only the
    stops the price crossed (a market reduce-only close of the whole position)."""

    def __init__(self, ids: np.ndarray, side: np.ndarray, stop: np.ndarray) -> None:
        has = stop > 0
        lo = has & (side > 0)  # long stops: sell when the price falls to them
        o = np.argsort(-stop[lo], kind="stable")
        self.long_ids, self.long_px = ids[lo][o], stop[lo][o]
        sh = has & (side < 0)
        o = np.argsort(stop[sh], kind="stable")
        self.short_ids, self.short_px = ids[sh][o], stop[sh][o]
        self.li = 0
        self.si = 0

    def triggered(self, price: int) -> tuple[np.ndarray, np.ndarray]:
        """Accounts whose stop the price has reached since the last call: (long, short) ids."""
        j = max(self.li, int(np.searchsorted(-self.long_px, -price, side="right")))
        longs = self.long_ids[self.li : j]
        self.li = j
        j = max(self.si, int(np.searchsorted(self.short_px, price, side="right")))
        shorts = self.short_ids[self.si : j]
        self.si = j
        return longs, shorts
