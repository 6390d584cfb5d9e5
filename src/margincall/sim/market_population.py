"""A market population on one venue: portfolios of the venue's instruments, opened as positions.

Per ``[[populations]]`` entry (docs/market-scenario.md, "What the kernel must do with it"):

* each account holds one, two or three of the population's instruments in the shares of
  ``mix.holding_shares``; which ones is drawn with probabilities proportional to each
  instrument's open interest on the venue (without repetition, by Gumbel top-k);
* the positions of each instrument are drawn by its holders as a single-venue population's are
  (:func:`margincall.agents.population.draw_cohort`: retail and capital cohorts, entries along
  the drift, accounts whose liquidation price was already crossed gone), scaled so the larger
  side holds the listing's open interest on this venue;
* where ``from_data`` names the instrument, its positions are the market map's at the start
  (:func:`margincall.sim.panel_population.population_from_panel`): the holders draw its levels
  with probability proportional to their notional and share its total equally, then the whole is
  scaled to the listing's open interest like a drawn instrument (the panel's positions still
  alive are below the open interest the panel records; their shape by entry, leverage and side
  is the data's, their total is the listing's);
* a share ``1 - mix.cross_share`` of the accounts is isolated: each of its legs margined alone
  with its own deposit, in the settlement asset; the cross accounts deposit in one collateral
  asset each, drawn with ``mix.collateral``'s shares (the settlement asset when it is empty),
  as many units as count for the deposit at the asset's start price and ratio;
* each account deposits each leg's margin at its leverage plus 0.05% of its notional for fees,
  plus a share of the leg's loss from its entry to the start: one uniform draw in [0, 1] per
  account (how much traders added as their positions went against them is unknown), raised
  where the account would otherwise start below ``START_CUSHION`` times its maintenance. Had
  every account topped up all of its loss, every leverage bucket of the market map would
  liquidate at one price, as if opened at the start. The rest of the loss is carried as
  settlement cash while the legs open (each is margin-checked with the others at the start
  price) and withdrawn after (:func:`~margincall.venue.portfolio_setup.withdraw_many`). The
  venue's carry ``desk`` takes the other side.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from margincall.agents.population import (
    _balanced_scale,
    _margin_terms,
    draw_cohort,
    draw_entrants,
    sorted_entrants,
    tier_terms,
)
from margincall.core import libm
from margincall.core.errors import InvalidInputError
from margincall.core.rng import RngTree
from margincall.sim.panel_population import population_from_panel
from margincall.venue.portfolio_setup import deposit_collateral_many, isolate_many, withdraw_many

START_CUSHION = 1.25
"""A population's account starts with its equity at least this many times its maintenance."""


@dataclass
class Legs:
    """The positions opened on one venue, one row per leg."""

    account: np.ndarray  # venue account id
    instrument: np.ndarray  # index into the venue's symbols
    side: np.ndarray  # +1 long, -1 short
    lots: np.ndarray
    entry: np.ndarray  # entry price, ticks
    stop: np.ndarray  # stop-loss price, ticks, 0 for none

    @classmethod
    def empty(cls) -> Legs:
        return cls(*(np.empty(0, np.int64) for _ in range(6)))

    def of(self, j: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Accounts, sides and stops of instrument ``j``'s legs."""
        m = self.instrument == j
        return self.account[m], self.side[m], self.stop[m]


def holding_counts(n: int, shares) -> np.ndarray:
    """How many of ``n`` accounts hold one, two and three instruments (``shares`` floored, the
    rest holding one)."""
    counts = np.floor(np.asarray(shares) * n).astype(np.int64)
    counts[0] += n - counts.sum()
    return counts


def holdings(n: int, shares, weights: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A boolean ``(n, instruments)`` matrix: which instruments each account holds."""
    counts = holding_counts(n, shares)
    h = rng.permutation(np.repeat(np.arange(1, len(shares) + 1), counts))
    keys = libm.log(np.maximum(weights, 1e-300)) + rng.gumbel(size=(n, len(weights)))
    rank = np.argsort(np.argsort(-keys, axis=1), axis=1)
    return rank < np.minimum(h, len(weights))[:, None]


def _drawn(cohorts, m: int, oi_usd: float, start: float, tree: RngTree) -> dict:
    n_cap = round(m * cohorts.capital.share_of_accounts)
    parts = []
    for k, (c, count) in enumerate(((cohorts.retail, m - n_cap), (cohorts.capital, n_cap))):
        d = draw_cohort(
            c, count, 2 * oi_usd * c.share_of_open_interest, start, tree.generator(f"cohort.{k}")
        )
        parts.append(d)
    return {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}


def _from_panel(file: str, when, m: int, rng: np.random.Generator) -> dict:
    d = population_from_panel(file, when)
    w = d["notional"] / d["notional"].sum()
    pick = rng.choice(len(w), m, p=w)
    out = {k: v[pick] for k, v in d.items() if k != "liq"}
    out["notional"] = np.full(m, d["notional"].sum() / m)
    return out


def positions(
    sc, pop, symbol: str, instrument, listing, start: float, m: int, tree: RngTree
) -> dict:
    """The ``m`` holders' positions of one instrument at the start (alive ones flagged)."""
    cohorts = sc.cohorts_of(pop, symbol)
    src = pop.from_data
    if src is not None and src.instrument == symbol:
        d = _from_panel(src.file, sc.run.start, m, tree.generator("panel"))
    else:
        d = _drawn(cohorts, m, listing.open_interest_usd, start, tree)
    if not len(d["side"]) or _balanced_scale(d, 1.0) == np.inf:
        raise InvalidInputError("populations", pop.venue, "holders of some open interest")
    d["notional"] *= _balanced_scale(d, listing.open_interest_usd)
    _, liq = _margin_terms(d, instrument)
    side = d["side"]
    # legs whose liquidation or stop the market has already passed were closed on the way
    stop_px = d["entry"] * (1 - side * d["stop"])
    d["alive"] = np.where(side > 0, liq < start * 0.995, liq > start * 1.005) & (
        (d["stop"] == 0) | np.where(side > 0, stop_px < start * 0.999, stop_px > start * 1.001)
    )
    alive = d["alive"]
    if alive.any():
        part = {k: v[alive] for k, v in d.items()}
        d["notional"] = d["notional"] * _balanced_scale(part, listing.open_interest_usd)
    d["leverage"], _ = _margin_terms(d, instrument)
    return d


def open_population(sc, pop, pv, desk: int, tree: RngTree, accounts: int) -> Legs:
    """Open ``accounts`` accounts of ``pop`` on ``pv`` against ``desk``; returns their legs."""
    syms = list(pop.instruments)
    js = [pv.symbols.index(s) for s in syms]
    listings = [next(x for x in sc.asset(s).venues if x.venue == pop.venue) for s in syms]
    weights = np.array([x.open_interest_usd for x in listings])
    held = holdings(accounts, pop.mix.holding_shares, weights, tree.generator("holdings"))
    rows = []
    for col, (sym, j, listing) in enumerate(zip(syms, js, listings, strict=True)):
        owners = np.flatnonzero(held[:, col])
        if len(owners) == 0:
            continue
        leg = pv.legs[j]
        start = float(sc.asset(sym).start_price)
        d = positions(sc, pop, sym, leg.instrument, listing, start, len(owners), tree.child(sym))
        a = d["alive"]
        tick = float(leg.scale.tick_size)
        entry_t = np.clip(
            np.round(d["entry"][a] / tick).astype(np.int64), leg.min_tick + 1, leg.max_tick - 1
        )
        lots = np.maximum(
            np.round(d["notional"][a] / (entry_t * tick) / float(leg.scale.lot_size)), 1
        )
        stop = d["entry"][a] * (1 - d["side"][a] * d["stop"][a])
        stop_t = np.where(d["stop"][a] > 0, np.round(stop / tick), 0).astype(np.int64)
        rows.append((owners[a], j, d["side"][a], lots.astype(np.int64), entry_t,
                     d["leverage"][a], leg, start, stop_t))  # fmt: skip
    isolated = tree.generator("margin mode").random(accounts) >= pop.mix.cross_share
    values = [lots * entry_t * leg.k for _, _, _, lots, entry_t, _, leg, _, _ in rows]
    losses = [
        _loss(side, lots, entry_t, leg, start)
        for _, _, side, lots, entry_t, _, leg, start, _ in rows
    ]
    kept = _topped_up(rows, values, losses, accounts, tree.generator("top-up"))
    deposit = np.zeros(accounts, np.int64)
    spare = np.zeros(accounts, np.int64)  # the loss not topped up, carried while the legs open
    setting = np.ones(accounts, np.int64)
    margins, iso_lev = [], []  # each row's deposit per leg; an isolated leg's leverage
    for row, value, loss, topped in zip(rows, values, losses, kept, strict=True):
        owner, _, _, _, _, lev, leg, _, _ = row
        part = (value / lev).astype(np.int64) + value // 2000 + topped
        # an isolated leg's topped-up loss is carried by its isolated margin alone: the leverage
        # whose initial margin holds it (value / L >= value / lev + topped)
        top_j = int(leg.instrument.tiers[0].max_leverage)
        lev_iso = np.clip(np.floor(value / (value / lev + topped)), 1, top_j).astype(np.int64)
        iso = isolated[owner]
        part[iso] = np.maximum(part[iso], -(-value[iso] // lev_iso[iso]) + value[iso] // 2000)
        margins.append(part)
        iso_lev.append(lev_iso)
        np.add.at(deposit, owner, part)
        np.add.at(spare, owner, np.where(iso, 0, loss - topped))
        np.maximum.at(setting, owner, np.ceil(lev).astype(np.int64))
    held_in = _collateral_of(sc, pop, pv, isolated, tree)
    cash = np.where(held_in < 0, deposit, 0) + spare
    top = max(int(v.instrument.tiers[0].max_leverage) for v in pv.legs)
    ids = np.empty(accounts, np.int64)
    chunk = 1_000_000
    for i in range(0, accounts, chunk):
        ids[i : i + chunk] = pv.open_accounts(
            cash[i : i + chunk], leverage=np.clip(setting[i : i + chunk], 1, top)
        )
    for c, asset in enumerate(pv.assets):
        mine = np.flatnonzero(held_in == c)
        if len(mine):
            units = collateral_units(pv, asset, deposit[mine])
            deposit_collateral_many(pv, ids[mine], asset, units)
    for (owner, j, *_), margin, lev_iso in zip(rows, margins, iso_lev, strict=True):
        iso = isolated[owner]
        if iso.any():
            isolate_many(pv, ids[owner[iso]], pv.symbols[j], margin[iso], lev_iso[iso])
    parts = []
    for owner, j, side, lots, entry_t, _, _, start, stop_t in rows:
        entry_t = _block_trades(pv, j, ids[owner], side, lots, entry_t, start, desk)
        parts.append((ids[owner], np.full(len(owner), j), side, lots, entry_t, stop_t))
    back = np.flatnonzero(spare)
    withdraw_many(pv, ids[back], spare[back])
    if not parts:
        return Legs.empty()
    return Legs(*(np.concatenate([p[i] for p in parts]).astype(np.int64) for i in range(6)))


def _loss(side, lots, entry_t, leg, start: float) -> np.ndarray:
    """Each leg's loss from its entry to the start price, micro-dollars (0 for a gain)."""
    start_t = round(start / float(leg.scale.tick_size))
    return np.maximum(0, side * (entry_t - start_t)) * lots * leg.k


def _topped_up(rows, values, losses, accounts: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Per row of legs, the part of each leg's loss since entry (``losses``, micro-dollars) its
    account has topped up: one share per account, uniform in [0, 1] (how much traders added as
    their positions went against them is unknown), raised where needed so that the account
    starts with its equity at least ``START_CUSHION`` times its maintenance (tiers by notional
    at the start price)."""
    f = rng.random(accounts)
    need = np.zeros(accounts)  # what the topped-up loss must at least be, micro-dollars
    total = np.zeros(accounts)
    for (owner, _, _, lots, _, lev, leg, start, _), value, loss in zip(
        rows, values, losses, strict=True
    ):
        now = lots * round(start / float(leg.scale.tick_size)) * leg.k
        _, rate = tier_terms(leg.instrument, now / 1e6)
        np.add.at(need, owner, START_CUSHION * now * rate - value / lev - value // 2000 + loss)
        np.add.at(total, owner, loss)
    f = np.maximum(f, np.clip(need / np.maximum(total, 1.0), 0.0, 1.0))
    return [
        (loss * f[owner]).astype(np.int64) for (owner, *_), loss in zip(rows, losses, strict=True)
    ]


def collateral_prices(sc, pop, rulebook) -> dict[str, float]:
    """The collateral assets besides the settlement asset that ``pop``'s accounts deposit
    (``mix.collateral``), with their start prices: the spot index's of the asset that prices
    one (:meth:`~margincall.sim.market.MarketScenario.collateral_symbol`), else $1."""
    out = {}
    for asset, share in pop.mix.collateral.items():
        if share > 0 and not rulebook.collateral_asset(asset).settlement:
            sym = sc.collateral_symbol(asset)
            out[asset] = 1.0 if sym is None else float(sc.asset(sym).start_price)
    return out


def _collateral_of(sc, pop, pv, isolated: np.ndarray, tree: RngTree) -> np.ndarray:
    """Per account, the index in ``pv.assets`` of the collateral asset it deposits in, -1 for
    the settlement asset: drawn per cross account with ``mix.collateral``'s shares (so that they
    are the deposits' shares by value in expectation); an isolated account deposits the
    settlement asset, the only margin of an isolated leg."""
    mix = {a: x for a, x in pop.mix.collateral.items() if x > 0}
    out = np.full(len(isolated), -1, np.int64)
    if not mix:
        return out
    names = list(mix)
    draw = tree.generator("collateral").choice(len(names), len(isolated), p=list(mix.values()))
    for k, name in enumerate(names):
        if name in pv.assets:
            out[(draw == k) & ~isolated] = pv.assets.index(name)
    return out


def collateral_units(pv, asset: str, value_micros: np.ndarray) -> np.ndarray:
    """Micro-units of ``asset`` whose collateral value (its price times its ratio tiers, as the
    venue counts it) is at least ``value_micros`` each."""
    spec = pv.rulebook.collateral_asset(asset)
    price = float(pv.pf.price[pv.assets.index(asset)]) / 1e6
    need = value_micros / 1e6 / price  # units of collateral value
    units = np.zeros(len(need))
    for t in spec.tiers:  # the tier whose slice holds the answer
        if t.ratio <= 0:
            continue
        x = (need - float(t.cum)) / float(t.ratio)
        inside = (x >= float(t.floor)) & (x < (math.inf if t.cap is None else float(t.cap)))
        units = np.where(inside, x, units)
    return np.ceil(units * 1e6 * 1.0001).astype(np.int64) + 1


def holders_bound(pop, accounts: int) -> int:
    """The most legs ``accounts`` accounts of ``pop`` hold (:func:`holdings`' counts)."""
    counts = holding_counts(accounts, pop.mix.holding_shares)
    legs = np.minimum(np.arange(1, 4), len(pop.instruments))
    return int((counts * legs).sum())


def entrants_bound(sc, pop, accounts: int) -> int:
    """The most intraday entrants :func:`open_entrants` opens for ``pop``."""
    c = sc.cohorts_of(pop)
    share = max(c.retail.intraday_share, c.capital.intraday_share)
    return math.ceil(share * holders_bound(pop, accounts)) + 2 * len(pop.instruments)


def open_entrants(sc, pop, pv, legs: Legs, tree: RngTree, steps: int) -> list:
    """Per instrument of the venue, its intraday entrants (funded, flat cross accounts opening
    one leg by a market order during the run, :class:`~margincall.agents.population.Entrants`)
    beside the population's holders of it (the cohorts split as :func:`positions` splits them);
    ``None`` for an instrument the population does not trade."""
    out: list = [None] * len(pv.symbols)
    for sym in pop.instruments:
        cohorts = sc.cohorts_of(pop, sym)
        j = pv.symbols.index(sym)
        m = int(np.count_nonzero(legs.instrument == j))
        n_cap = round(m * cohorts.capital.share_of_accounts)
        listing = sc.listing(pop.venue, sym)
        start = float(sc.asset(sym).start_price)
        d = draw_entrants(cohorts, (m - n_cap, n_cap), listing.open_interest_usd, start, steps,
                          pv.legs[j], tree.child(f"{sym}.entrants"))  # fmt: skip
        if len(d["deposit"]) == 0:
            continue
        ids = pv.open_accounts(d["deposit"], leverage=d["setting"])
        out[j] = sorted_entrants(ids, d, sc.run.step_seconds)
    return out


def _block_trades(pv, j, ids, side, lots, entry_t, start, desk) -> np.ndarray:
    """Open one instrument's legs by entry price in 0.05% buckets, farthest from the start
    first (as the single-venue population does); returns the entries in ticks."""
    leg, sym = pv.legs[j], pv.symbols[j]
    scale = leg.scale
    tick = float(scale.tick_size)
    bucket = np.round(libm.log(entry_t) / 0.0005).astype(np.int64)
    b0 = round(math.log(start / tick) / 0.0005)
    order = np.lexsort((ids, bucket, -np.abs(bucket - b0)))
    cuts = np.flatnonzero(np.diff(bucket[order])) + 1
    entry_t = entry_t.copy()
    for grp in np.split(order, cuts):
        price_t = int(np.median(entry_t[grp]))
        price = scale.ticks_to_price(price_t)
        pv.set_index_price(sym, price)
        pv.update_marks()
        pv.block_trades(sym, ids[grp], side[grp] * lots[grp], price, desk)
        entry_t[grp] = price_t
    pv.set_index_price(sym, scale.ticks_to_price(scale.price_to_ticks(start, "nearest")))
    pv.update_marks()
    return entry_t
