"""Market scenarios: several venues and assets in one run, as a validated pydantic model.

A market scenario (a TOML with ``[[venues]]``) describes the whole market of
``DESIGN.md`` "A market is venues and assets" (docs/market-scenario.md):

* ``[[venues]]``: each venue's name, rulebook (one of the four packaged), the instruments it
  lists (symbols of that rulebook), its insurance fund, optional fee overrides and the weight of
  its book mid in a Hyperliquid-rule venue's mark (``perp_mid_weight``, default 1);
* ``[[assets]]``: each asset's perpetual symbol, start price, beta to the market factor and
  idiosyncratic volatility, spot impact, and per venue (``[[assets.venues]]``) its open interest
  and ±1% depth there;
* ``[[populations]]``: the leveraged accounts of one venue: which instruments they trade, the
  retail and capital cohorts (:class:`margincall.sim.scenario.Population`), their portfolio mix
  (how many hold one, two or three assets; cross or isolated; collateral by asset) and,
  optionally, one instrument's leverage state built from a market-data panel (``from_data``);
* ``[factor]`` and ``[flow]``: the market factor, the same GARCH-t and flow-impact process as a
  single-venue scenario's ``[index]`` (:class:`margincall.sim.scenario.IndexProcess`) driven by
  the same flow schedule (:class:`margincall.sim.scenario.Flow`);
* ``[run]`` (time only) and ``[arbitrage]`` (cross-venue capital and transfer delay).

A single-venue scenario (no ``venues``) is read by :func:`margincall.sim.scenario.load_scenario`
exactly as before; :func:`load_any` tells the two apart. Errors name the dotted field
(``venues.1.instruments``), the value and what was expected. The market kernel
(:mod:`margincall.sim.market_kernel`) runs them; ``margincall simulate`` takes either kind.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, ValidationError, field_validator, model_validator

from margincall.core.errors import InvalidInputError
from margincall.sim.scenario import (
    MAX_ACCOUNTS,
    MAX_MONEY_USD,
    PRESETS,
    Flow,
    IndexProcess,
    Makers,
    Momentum,
    Population,
    Positive,
    Run,
    Scenario,
    Share,
    Usd,
    UsdOrZero,
    _error_message,
    _Model,
    as_utc,
    is_market,
    packaged_text,
    parse_scenario,
    read_scenario_toml,
)
from margincall.venue.instrument import RULEBOOKS, Rulebook, load_rulebook

MARKET_PRESETS = ("feb-2026-market", "oct-2025")
"""Market presets (run by :mod:`margincall.sim.market_kernel`)."""
SHARE_TOLERANCE = 1e-9
DOLLARS = ("USDT", "USDC", "USDE")
"""Dollar stablecoins: $1 in a market run unless a ``[[stablecoin_books]]`` entry gives one a
book on a venue (:meth:`MarketScenario.collateral_symbol`)."""
_BASES = {"XBT": "BTC"}  # a rulebook's name for an asset -> the base of its perpetual's symbol
Name = Annotated[str, Field(min_length=1, max_length=64)]


@lru_cache(maxsize=len(RULEBOOKS))
def _rulebook(name: str) -> Rulebook:
    return load_rulebook(name)


def _venue(venues: dict[str, MarketVenue], name: str, where: str) -> MarketVenue:
    if name not in venues:
        raise InvalidInputError(where, name, f"the name of a [[venues]] entry: {', '.join(venues)}")
    return venues[name]


def _unique(values: list[str], where: str, expected: str, suffix: str = "") -> None:
    seen: set[str] = set()
    for i, v in enumerate(values):
        if v in seen:
            raise InvalidInputError(f"{where}.{i}{suffix}", v, f"{expected} ({v} is repeated)")
        seen.add(v)


def _sum_to_one(shares: tuple[float, ...], where: str) -> None:
    total = sum(shares)
    if abs(total - 1.0) > SHARE_TOLERANCE:
        raise InvalidInputError(
            where, list(shares), f"shares summing to 1 (within {SHARE_TOLERANCE:g}; they sum to "
            f"{total:.12g})",
        )  # fmt: skip


class MarketRun(_Model):
    """How long and how fine (the accounts are per population)."""

    hours: Annotated[float, Field(gt=0, le=24 * 14)] = 24.0  # simulated hours
    step_seconds: Annotated[int, Field(ge=1, le=3600)] = 5  # kernel step, seconds
    start: datetime = Run().start  # simulated start time (UTC)
    snapshot_seconds: Annotated[int, Field(ge=1, le=3600)] = 60  # state snapshots, seconds

    @field_validator("start")
    @classmethod
    def _utc(cls, v: datetime) -> datetime:
        return as_utc(v)


class Fees(_Model):
    """Fee overrides for every instrument of a venue (fractions of notional); unset keeps the
    rulebook's."""

    maker_fee: Annotated[float, Field(ge=-0.001, le=0.01)] | None = None  # negative: rebate
    taker_fee: Annotated[float, Field(ge=0, le=0.01)] | None = None

    @field_validator("maker_fee", "taker_fee")
    @classmethod
    def _whole_ppm(cls, v: float | None) -> float | None:
        if v is not None and abs(v * 1e6 - round(v * 1e6)) > 1e-6:
            raise ValueError("a fee in whole parts per million (0.0004, 0.00045)")
        return v

    def applied(self, rb: Rulebook) -> Rulebook:
        """``rb`` with these fees on every instrument."""
        change = {
            name: Decimal(round(getattr(self, name) * 1_000_000)).scaleb(-6)
            for name in ("maker_fee", "taker_fee")
            if getattr(self, name) is not None
        }
        instruments = {s: replace(i, **change) for s, i in rb.instruments.items()}
        return replace(rb, instruments=instruments)


class MarketVenue(_Model):
    """One venue: a rulebook, the instruments it lists, its own insurance fund."""

    name: Name  # unique in the market, e.g. "binance-a"
    rulebook: str  # one of binance, bitmex, dydx, hyperliquid
    instruments: Annotated[list[str], Field(min_length=1)]  # symbols of that rulebook
    insurance_fund_usd: UsdOrZero  # the venue's fund (Hyperliquid: its backstop vault), USD
    fees: Fees | None = None  # overrides of the rulebook's maker and taker fees
    # the weight of this venue's book mid in a Hyperliquid-rule venue's mark (its perp-mid part,
    # a weighted median: Binance 3, OKX 2, Bybit 2, Gate 1, MEXC 1; docs/market-scenario.md)
    perp_mid_weight: Annotated[int, Field(ge=0, strict=True)] = 1

    @field_validator("rulebook")
    @classmethod
    def _known(cls, v: str) -> str:
        if v not in RULEBOOKS:
            raise ValueError(f"one of the rulebooks {', '.join(RULEBOOKS)}")
        return v

    @model_validator(mode="after")
    def _listed(self) -> MarketVenue:
        symbols = _rulebook(self.rulebook).symbols
        for i, sym in enumerate(self.instruments):
            if sym not in symbols:
                raise InvalidInputError(
                    f"instruments.{i}", sym, f"an instrument of rulebook {self.rulebook}: "
                    f"{', '.join(symbols)}"
                )  # fmt: skip
        _unique(self.instruments, "instruments", "an instrument the venue does not list twice")
        return self


class Listing(_Model):
    """An asset on one venue: its perpetual's open interest and book there at the start."""

    venue: Name  # a venue's name
    open_interest_usd: Usd  # open interest (one side) at the start, USD
    depth_1pct_usd: Usd  # resting size within 1% of mid, each side, calm, USD


class Asset(_Model):
    """One asset: its spot index follows the market factor with ``beta`` plus its own noise."""

    symbol: Name  # the perpetual's symbol in the rulebooks, e.g. "ETHUSDT"
    start_price: Positive  # spot index at the start, USD
    beta: Annotated[float, Field(ge=-5, le=5)] = 1.0  # log-return loading on the market factor
    idio_vol_annual: Annotated[float, Field(ge=0, le=5)] = 0.0  # own volatility, annualised
    impact_bps_per_musd: Annotated[float, Field(ge=0)] = 0.0  # own spot impact, bps per $1M net
    # the asset the factor is (one at most): its own net spot flow moves the factor, every asset
    # through its beta, at the factor's impact (its own impact then unused)
    drives_factor: bool = False
    # the populations' leverage on this asset relative to their cohorts' (both cohorts' leverage
    # range times this, then capped by the instrument's tiers as always)
    leverage_scale: Annotated[float, Field(gt=0, le=10)] = 1.0
    venues: list[Listing] = Field(default_factory=list)  # where it trades (at least one)


class PortfolioMix(_Model):
    """How a venue's accounts hold portfolios."""

    # shares of accounts holding one, two and three of the population's instruments (sum 1)
    holding_shares: tuple[Share, Share, Share] = (1.0, 0.0, 0.0)
    cross_share: Share = 1.0  # accounts on cross margin; the rest isolated
    # share of the deposits (USD value) by collateral asset of the venue's rulebook (sum 1);
    # empty: all in the rulebook's settlement asset
    collateral: dict[str, Share] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _sums(self) -> PortfolioMix:
        _sum_to_one(self.holding_shares, "holding_shares")
        if self.collateral:
            _sum_to_one(tuple(self.collateral.values()), "collateral")
        return self


class PanelSource(_Model):
    """One instrument's leverage state built from a market-data panel's history before the
    start (:mod:`margincall.agents.leverage_levels`): open-interest increases placed at the
    prices where they happened, split over leverage buckets, removed when crossed."""

    instrument: Name  # which of the population's instruments
    # a market-data panel (margincall.sources.panel formats), read at run time, never copied;
    # a relative path is taken from the working directory, else from the checkout's root
    file: Annotated[str, Field(min_length=1)]


class MarketPopulation(_Model):
    """The leveraged accounts of one venue."""

    venue: Name  # a venue's name
    accounts: Annotated[int, Field(ge=100, le=MAX_ACCOUNTS)] = 200_000  # leveraged accounts
    instruments: Annotated[list[str], Field(min_length=1)]  # what they trade (the venue's)
    # retail and capital cohorts (unset: the market's [cohorts]); shares of open interest are of
    # each instrument's open interest on this venue
    cohorts: Population | None = None
    mix: PortfolioMix = PortfolioMix()
    from_data: PanelSource | None = None  # one instrument's positions from a panel

    @model_validator(mode="after")
    def _mix_fits(self) -> MarketPopulation:
        _unique(self.instruments, "instruments", "an instrument named once")
        n = len(self.instruments)
        held = self.mix.holding_shares
        if any(held[k] > 0 for k in range(n, 3)):
            raise InvalidInputError(
                "mix.holding_shares", list(held),
                f"no accounts holding more assets than the {n} instruments listed",
            )  # fmt: skip
        if self.from_data and self.from_data.instrument not in self.instruments:
            raise InvalidInputError(
                "from_data.instrument", self.from_data.instrument,
                f"one of the population's instruments {', '.join(self.instruments)}",
            )  # fmt: skip
        return self


class CrossArbitrage(_Model):
    """Arbitrageurs across venues: finite collateral on each venue, moved with a delay."""

    capital_usd_per_venue: Usd = 2e9  # collateral on each venue at the start, USD
    threshold_bps: Annotated[float, Field(ge=0)] = 5.0  # act on a gap between venues beyond this
    transfer_minutes_min: Positive = 1.0  # fastest collateral move between venues, minutes
    transfer_minutes_max: Positive = 10.0  # slowest (delays drawn between the two), minutes

    @model_validator(mode="after")
    def _ordered(self) -> CrossArbitrage:
        if self.transfer_minutes_max < self.transfer_minutes_min:
            raise InvalidInputError(
                "transfer_minutes_max", self.transfer_minutes_max,
                f"at least transfer_minutes_min ({self.transfer_minutes_min})",
            )  # fmt: skip
        return self


class StablecoinBook(_Model):
    """A dollar stablecoin's spot book on a venue (:mod:`margincall.sim.stablecoin_book`)."""

    venue: Name  # a venue whose population deposits the asset
    asset: Name  # a collateral asset its rulebook prices from the venue's own book
    depth_1pct_usd: Usd  # the maker's bids within 1% of the peg, USD
    capital_usd: Usd  # the maker's dollars for its bids (its ladder goes as deep as they reach)


class StablecoinMakers(_Model):
    """How the makers of every ``[[stablecoin_books]]`` behave."""

    refill_minutes: Positive = 10.0  # a taken top and ladder come back with this time constant
    redeem_minutes: Positive = 60.0  # units bought are redeemed at $1 after this long


class MarketScenario(_Model):
    """Everything a market run needs besides the seed."""

    name: str = "custom-market"
    description: str = ""
    run: MarketRun = MarketRun()
    factor: IndexProcess = IndexProcess()  # the market factor: GARCH-t plus flow impact
    flow: Flow = Flow()  # spot flow and news on the market factor
    venues: Annotated[list[MarketVenue], Field(min_length=1)]
    assets: Annotated[list[Asset], Field(min_length=1)]
    populations: list[MarketPopulation] = Field(default_factory=list)
    cohorts: Population = Population()  # the populations' cohorts where they set none
    arbitrage: CrossArbitrage = CrossArbitrage()
    # the makers of every book, described for a book of makers.depth_1pct_usd (see book_makers)
    makers: Makers = Makers()
    # trend followers of the whole market, shared over the books by open interest (see
    # momentum_share); none unless set
    momentum: Momentum = Momentum(accounts=0)
    # dollar stablecoins with a spot book on a venue: the venue's desk sells the collateral it
    # converts there, and the book's price marks it where the rulebook says so; none unless set
    stablecoin_books: list[StablecoinBook] = Field(default_factory=list)
    stablecoin_makers: StablecoinMakers = StablecoinMakers()

    @model_validator(mode="after")
    def _references(self) -> MarketScenario:
        venues = {v.name: v for v in self.venues}
        _unique([v.name for v in self.venues], "venues", "a venue name used once", ".name")
        _unique([a.symbol for a in self.assets], "assets", "an asset symbol used once", ".symbol")
        drivers = [a.symbol for a in self.assets if a.drives_factor]
        if len(drivers) > 1:
            raise InvalidInputError(
                "assets.drives_factor", drivers, "at most one asset the factor is"
            )
        listed: set[tuple[str, str]] = set()
        for i, a in enumerate(self.assets):
            if not a.venues:
                raise InvalidInputError(
                    f"assets.{i}.venues", [],
                    f"at least one [[assets.venues]] naming a venue that lists {a.symbol} "
                    "(an asset on no venue)",
                )  # fmt: skip
            _unique([x.venue for x in a.venues], f"assets.{i}.venues", "a venue once", ".venue")
            for j, x in enumerate(a.venues):
                v = _venue(venues, x.venue, f"assets.{i}.venues.{j}.venue")
                if a.symbol not in v.instruments:
                    raise InvalidInputError(
                        f"assets.{i}.venues.{j}.venue", x.venue,
                        f"a venue whose instruments include {a.symbol} "
                        f"(venue {v.name} lists {', '.join(v.instruments)})",
                    )  # fmt: skip
                listed.add((v.name, a.symbol))
        for i, v in enumerate(self.venues):
            for k, sym in enumerate(v.instruments):
                if (v.name, sym) not in listed:
                    raise InvalidInputError(
                        f"venues.{i}.instruments.{k}", sym,
                        f"an instrument with an [[assets]] entry listing venue {v.name} "
                        "(its price, open interest and depth)",
                    )  # fmt: skip
        if self.flow.perp:
            raise InvalidInputError(
                "flow.perp", len(self.flow.perp),
                "no [[flow.perp]] windows in a market scenario (directional perp flow is not "
                "split over venues yet): [[flow.spot]] moves every asset through the factor",
            )  # fmt: skip
        capital = self.makers.capital_usd  # the default (a dumped scenario read again) is fine
        if capital != Makers.model_fields["capital_usd"].default:
            raise InvalidInputError(
                "makers.capital_usd", capital,
                "no such field in a market's [makers]: one maker account per venue quotes "
                "every book, its capital 100 times the venue's ±1% depth",
            )  # fmt: skip
        self._check_populations(venues)
        self._check_stablecoin_books(venues)
        self._check_money()
        return self

    def _check_populations(self, venues: dict[str, MarketVenue]) -> None:
        _unique([p.venue for p in self.populations], "populations", "one per venue", ".venue")
        for i, p in enumerate(self.populations):
            v = _venue(venues, p.venue, f"populations.{i}.venue")
            for k, sym in enumerate(p.instruments):
                if sym not in v.instruments:
                    raise InvalidInputError(
                        f"populations.{i}.instruments.{k}", sym,
                        f"an instrument venue {v.name} lists ({', '.join(v.instruments)})",
                    )  # fmt: skip
            assets = _rulebook(v.rulebook).collateral
            for asset in p.mix.collateral:
                if asset not in assets:
                    raise InvalidInputError(
                        f"populations.{i}.mix.collateral", asset,
                        f"a collateral asset of rulebook {v.rulebook}: {', '.join(assets)}",
                    )  # fmt: skip
                priced_by = self.collateral_symbol(asset)
                if priced_by is not None and priced_by not in self.symbols:
                    raise InvalidInputError(
                        f"populations.{i}.mix.collateral", asset,
                        f"a dollar stablecoin ({', '.join(DOLLARS)}) or an asset whose "
                        f"perpetual ({priced_by}) is in [[assets]]: its spot index prices it",
                    )  # fmt: skip

    def _check_stablecoin_books(self, venues: dict[str, MarketVenue]) -> None:
        _unique([f"{b.venue}/{b.asset}" for b in self.stablecoin_books], "stablecoin_books",
                "one book per venue and asset")  # fmt: skip
        for i, b in enumerate(self.stablecoin_books):
            where = f"stablecoin_books.{i}"
            v = _venue(venues, b.venue, f"{where}.venue")
            own = [a for a, c in _rulebook(v.rulebook).collateral.items()
                   if a in DOLLARS and not c.settlement and c.price.own_book > 0]  # fmt: skip
            if b.asset not in own:
                raise InvalidInputError(
                    f"{where}.asset", b.asset,
                    f"a dollar stablecoin that rulebook {v.rulebook} takes as collateral and "
                    f"prices from the venue's own book: {', '.join(own) or 'none'}",
                )  # fmt: skip
            pop = next((p for p in self.populations if p.venue == b.venue), None)
            if pop is None or pop.mix.collateral.get(b.asset, 0) <= 0:
                raise InvalidInputError(
                    f"{where}.asset", b.asset,
                    f"an asset venue {b.venue}'s population deposits (its mix.collateral)",
                )  # fmt: skip

    def _check_money(self) -> None:
        for i, v in enumerate(self.venues):
            total = self.start_money_usd(v.name)
            if total > MAX_MONEY_USD:
                raise InvalidInputError(
                    f"venues.{i}", v.name,
                    f"a venue whose accounts and fund start with at most {MAX_MONEY_USD:,.0f} "
                    f"USD ({total:,.0f} here: lower its open interest, fund or the arbitrage "
                    "capital)",
                )  # fmt: skip

    def start_money_usd(self, venue: str) -> float:
        """An upper bound of the money in ``venue`` at the start: its fund, the arbitrage desk's
        collateral there and the margin of both sides of every listing's open interest."""
        fund = next(v.insurance_fund_usd for v in self.venues if v.name == venue)
        oi = sum(x.open_interest_usd for a in self.assets for x in a.venues if x.venue == venue)
        return fund + self.arbitrage.capital_usd_per_venue + 2 * oi

    def cohorts_of(self, population: MarketPopulation, symbol: str | None = None) -> Population:
        """The cohorts of ``population``: its own, else the market's ``[cohorts]``; on
        ``symbol``, with their leverage ranges times the asset's ``leverage_scale``."""
        c = population.cohorts or self.cohorts
        scale = 1.0 if symbol is None else self.asset(symbol).leverage_scale
        if scale == 1.0:
            return c
        return c.model_copy(update={
            k: getattr(c, k).model_copy(update={
                "leverage_min": getattr(c, k).leverage_min * scale,
                "leverage_max": getattr(c, k).leverage_max * scale,
            }) for k in ("retail", "capital")
        })  # fmt: skip

    def collateral_symbol(self, asset: str) -> str | None:
        """The perpetual whose asset's spot index prices collateral ``asset`` (BTC, XBT:
        BTCUSDT); None for a dollar stablecoin, held at $1 unless a ``[[stablecoin_books]]``
        entry gives it a book on a venue (then that book's price is its ``own_book`` source
        there, and its index and redemption sources read $1)."""
        if asset in DOLLARS:
            return None
        return f"{_BASES.get(asset, asset)}USDT"

    def rulebook(self, venue: str) -> Rulebook:
        """``venue``'s rulebook with its ``fees`` applied."""
        v = self.venue(venue)
        rb = _rulebook(v.rulebook)
        return rb if v.fees is None else v.fees.applied(rb)

    def venue(self, name: str) -> MarketVenue:
        """The venue called ``name``."""
        return _venue({v.name: v for v in self.venues}, name, "venue")

    def asset(self, symbol: str) -> Asset:
        """The asset whose perpetual is ``symbol``."""
        for a in self.assets:
            if a.symbol == symbol:
                return a
        raise InvalidInputError("symbol", symbol, f"one of {', '.join(self.symbols)}")

    @property
    def symbols(self) -> tuple[str, ...]:
        return tuple(a.symbol for a in self.assets)

    def listing(self, venue: str, symbol: str) -> Listing:
        """``symbol``'s listing on ``venue``."""
        return next(x for x in self.asset(symbol).venues if x.venue == venue)

    def book_makers(self, venue: str, symbol: str) -> Makers:
        """The makers of one book: ``[makers]`` describes ``count`` makers sharing a reference
        book of ``depth_1pct_usd`` (``ref``); one maker account per venue quotes every book
        with the listing's depth and the reference's dollar figures scaled to it: it skews by
        ``skew_bps_per_musd x ref / depth / count`` per $1M of inventory on the book (the
        reference makers each hold a ``count``-th of theirs) and thins by half at a loss of
        ``loss_withdraw_usd x count x venue depth / ref`` over all the venue's books (the
        venue's depth: the sum of its listings')."""
        m = self.makers
        depth = self.listing(venue, symbol).depth_1pct_usd
        total = sum(self.listing(venue, s).depth_1pct_usd for s in self.venue(venue).instruments)
        return m.model_copy(update={
            "depth_1pct_usd": depth, "count": 1,
            "skew_bps_per_musd": m.skew_bps_per_musd * m.depth_1pct_usd / depth / m.count,
            "loss_withdraw_usd": m.loss_withdraw_usd * m.count * total / m.depth_1pct_usd,
        })  # fmt: skip

    def momentum_share(self, venue: str, symbol: str) -> float:
        """The share of ``[momentum]`` (accounts, target and trading per step) on one book: the
        listing's open interest over the whole market's."""
        total = sum(x.open_interest_usd for a in self.assets for x in a.venues)
        return self.listing(venue, symbol).open_interest_usd / total


def parse_market(data: dict[str, Any], source: str = "market scenario") -> MarketScenario:
    """Validate a market scenario dict; errors name the dotted field, the value and what was
    expected."""
    try:
        return MarketScenario.model_validate(data)
    except ValidationError as exc:
        e = exc.errors()[0]
        err = (e.get("ctx") or {}).get("error")
        if isinstance(err, InvalidInputError):  # a rule across fields: the error names them
            where = ".".join([*(str(p) for p in e["loc"]), err.field])
            raise InvalidInputError(f"{source}: {where}", err.value, err.expected) from None
        raise _error_message(exc, source) from None


def load_any(name_or_path: str | Path) -> Scenario | MarketScenario:
    """A preset (single-venue or market) or a scenario TOML file: a market scenario when it has
    ``venues``, else a single-venue one (read exactly as :func:`load_scenario` reads it)."""
    data, source = read_scenario_toml(name_or_path, PRESETS + MARKET_PRESETS)
    if is_market(data):
        return parse_market(data, source)
    return parse_scenario(data, source)


def load_market(name_or_path: str | Path) -> MarketScenario:
    """A market preset by name, or a market scenario TOML file by path."""
    sc = load_any(name_or_path)
    if not isinstance(sc, MarketScenario):
        raise InvalidInputError(
            "scenario", str(name_or_path), "a market scenario (with [[venues]] and [[assets]])"
        )
    return sc


def scenario_text(name_or_path: str | Path) -> str:
    """The TOML text of a preset (single-venue or market) or of a scenario file,
    after validating it (:func:`load_any`): a bad file is an InvalidInputError, nothing printed.
    """
    name = str(name_or_path)
    if name in PRESETS + MARKET_PRESETS:
        return packaged_text(name)
    if not Path(name).is_file():
        raise InvalidInputError(
            "scenario", name,
            f"one of the presets {', '.join(PRESETS + MARKET_PRESETS)} or a scenario TOML file",
        )  # fmt: skip
    load_any(name)
    return Path(name).read_text("utf-8")
