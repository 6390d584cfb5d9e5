"""Collateral assets and portfolio rules of a rulebook: the ``[collateral.*]`` and ``[portfolio]``
tables (reference: portfolio-margin.md, rules R3, R5, R6, R7, R9; docs/portfolio-rules.md).

A collateral asset has a collateral ratio ``r = 1 - haircut``, either one ``ratio`` or quantity
``tiers`` valued as slices (a holding ``x`` in tier k is worth ``x*r_k + cumC_k`` units of the
asset at full price, with ``cumC_1 = 0`` and ``cumC_k = cumC_(k-1) + floor_k*(r_(k-1) - r_k)``),
optional Binance buffers (``ask_buffer`` for negative equity, ``auto_exchange_buffer`` for
conversion), a price source given as weights over ``own_book``, ``index``, ``redemption`` and
``fixed`` (summing to 1) with an optional ``price_floor``, and a ``settlement`` flag (exactly one
asset per rulebook: the quote its perpetuals settle in).

Every number is an exact Decimal and every rate a whole number of ppm, so the integer engine can
use them as they are. Errors are `RulebookError` naming the file, the dotted field and the value.

Example:
    >>> usde = parse_collateral("<doc>", {"USDE": {"ratio": "0.9", "settlement": True,
    ...                                            "price": {"own_book": "1"}}}, {"USDE"})["USDE"]
    >>> usde.ratio, usde.price.own_book, usde.collateral_units(14_000)
    (Decimal('0.9'), Decimal('1'), Decimal('12600.0'))
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from margincall.core.errors import InvalidInputError, RulebookError
from margincall.venue.toml_fields import (
    decimal_field,
    rate_field,
    str_field,
    table_field,
)

PRICE_SOURCES = ("own_book", "index", "redemption", "fixed")
PROCEDURES = ("binance_all_legs", "bitmex_takeover_all", "hyperliquid_market_all", "dydx_rotation")
NEGATIVE_BALANCE_RULES = ("ask", "par", "full")
DEFAULT_FUND = "default"
_PPM = 1_000_000
_ASSET_KEYS = ("price",)
_ASSET_OPTIONAL = ("ratio", "tiers", "ask_buffer", "auto_exchange_buffer", "price_floor",
                   "settlement")  # fmt: skip
_PORTFOLIO_KEYS = ("procedure", "negative_balance", "funds")


@dataclass(frozen=True)
class CollateralTier:
    """One quantity slice: holdings in [floor, cap) count at ``ratio``; ``cum`` is cumC (units)."""

    floor: Decimal
    cap: Decimal | None
    ratio: Decimal
    cum: Decimal


@dataclass(frozen=True)
class PriceWeights:
    """Weights of the collateral price's sources (R5), summing to exactly 1."""

    own_book: Decimal = Decimal(0)
    index: Decimal = Decimal(0)
    redemption: Decimal = Decimal(0)
    fixed: Decimal = Decimal(0)

    def price(self, own_book: Decimal, index: Decimal, redemption: Decimal) -> Decimal:
        """The weighted source price (``fixed`` counts at 1), before the floor."""
        return (
            self.own_book * own_book
            + self.index * index
            + self.redemption * redemption
            + self.fixed
        )


@dataclass(frozen=True)
class CollateralAsset:
    """A collateral asset: ratio tiers, buffers, price source, floor and the settlement flag."""

    asset: str
    tiers: tuple[CollateralTier, ...]
    price: PriceWeights
    price_floor: Decimal = Decimal(0)
    ask_buffer: Decimal = Decimal(0)
    auto_exchange_buffer: Decimal = Decimal(0)
    settlement: bool = False

    @property
    def ratio(self) -> Decimal:
        """The ratio of the first tier (the only one for an untiered asset)."""
        return self.tiers[0].ratio

    @property
    def tier_ratio_ppm(self) -> tuple[int, ...]:
        """Each tier's ratio in whole ppm (the loader checks they are whole), for the engine."""
        return tuple(int(t.ratio * _PPM) for t in self.tiers)

    @property
    def buffers_ppm(self) -> tuple[int, int]:
        """``(ask_buffer, auto_exchange_buffer)`` in whole ppm."""
        return int(self.ask_buffer * _PPM), int(self.auto_exchange_buffer * _PPM)

    @property
    def price_weights_ppm(self) -> tuple[int, int, int, int]:
        """Weights of (own_book, index, redemption, fixed) in whole ppm, summing to 1,000,000."""
        w, m = self.price, _PPM
        return int(w.own_book * m), int(w.index * m), int(w.redemption * m), int(w.fixed * m)

    def tier_for(self, qty: Decimal | int) -> int:
        """Index of the tier whose [floor, cap) holds ``qty`` (>= 0, in units of the asset)."""
        if qty < 0:
            raise InvalidInputError("qty", qty, "a non-negative quantity of the asset")
        return bisect_right([t.floor for t in self.tiers], qty) - 1

    def collateral_units(self, qty: Decimal | int) -> Decimal:
        """Haircut value of a holding in units of the asset: ``qty*r_k + cumC_k`` (qty >= 0)."""
        t = self.tiers[self.tier_for(qty)]
        return Decimal(qty) * t.ratio + t.cum


@dataclass(frozen=True)
class PortfolioRules:
    """Portfolio liquidation procedure (R3), negative-balance rule (R6) and funds (R9).

    ``fund_pairs`` maps instrument symbols to insurance-fund ids; ``default_fund`` serves every
    other instrument. Use `Rulebook.fund_for` to look one up.
    """

    procedure: str
    negative_balance: str
    default_fund: str
    fund_pairs: tuple[tuple[str, str], ...] = ()

    @property
    def funds(self) -> dict[str, str]:
        """The explicit symbol -> fund map (a copy), without the default."""
        return dict(self.fund_pairs)

    @property
    def fund_ids(self) -> tuple[str, ...]:
        """Every fund id, the default last, each once."""
        ids = dict.fromkeys(f for _, f in self.fund_pairs)
        ids.pop(self.default_fund, None)
        return (*ids, self.default_fund)


def _ppm_rate(source: str, fld: str, v: Any, *, hi_open: bool = False) -> Decimal:
    d = rate_field(source, fld, v, Decimal(0), Decimal(1), lo_open=False)
    if hi_open and d == 1:
        raise RulebookError(source, fld, v, "a number in [0, 1)")
    if (d * _PPM) % 1 != 0:
        raise RulebookError(source, fld, v, "a whole number of ppm (parts per million)")
    return d


def _ratio(source: str, fld: str, v: Any) -> Decimal:
    d = decimal_field(source, fld, v)
    if not 0 <= d <= 1:
        raise RulebookError(
            source,
            fld,
            v,
            "a collateral ratio in [0, 1] (1 - haircut; above 1 is a negative haircut)",
        )
    return _ppm_rate(source, fld, v)


def collateral_tiers(
    source: str, at: str, rows: list[tuple[Any, Any]]
) -> tuple[CollateralTier, ...]:
    """Build quantity tiers from ``(floor, ratio)`` rows: floors from 0, increasing; cumC computed.

    Example:
        >>> [t.cum for t in collateral_tiers("<doc>", "tiers", [(0, "0.98"), (10, "0.95")])]
        [Decimal('0'), Decimal('0.30')]
    """
    floors: list[Decimal] = []
    ratios: list[Decimal] = []
    cums: list[Decimal] = []
    for i, (floor_raw, ratio_raw) in enumerate(rows):
        fld = f"{at}[{i}]"
        floor = decimal_field(source, f"{fld}.floor", floor_raw)
        if i == 0 and floor != 0:
            raise RulebookError(source, f"{fld}.floor", floor_raw, "0 for the first tier")
        if i > 0 and floor <= floors[-1]:
            raise RulebookError(source, f"{fld}.floor", floor_raw, f"a floor above {floors[-1]}")
        ratio = _ratio(source, f"{fld}.ratio", ratio_raw)
        cums.append(Decimal(0) if i == 0 else cums[-1] + floor * (ratios[-1] - ratio))
        floors.append(floor)
        ratios.append(ratio)
    caps: list[Decimal | None] = [*floors[1:], None]
    return tuple(CollateralTier(*row) for row in zip(floors, caps, ratios, cums, strict=True))


def _price(source: str, at: str, v: Any) -> PriceWeights:
    t = table_field(source, at, v, (), PRICE_SOURCES)
    weights = {k: _ppm_rate(source, f"{at}.{k}", t[k]) for k in t}
    if sum(weights.values(), Decimal(0)) != 1:
        shown = ", ".join(f"{k}={w}" for k, w in weights.items()) or "none"
        raise RulebookError(source, at, shown, "weights summing to exactly 1")
    return PriceWeights(**weights)


def _asset(source: str, name: str, v: Any) -> CollateralAsset:
    at = f"collateral.{name}"
    t = table_field(source, at, v, _ASSET_KEYS, _ASSET_OPTIONAL)
    if ("ratio" in t) == ("tiers" in t):
        raise RulebookError(source, at, sorted(t), "exactly one of ratio or tiers")
    if "tiers" in t:
        raw = t["tiers"]
        if not isinstance(raw, list) or not raw:
            raise RulebookError(source, f"{at}.tiers", raw, "a non-empty array of tier tables")
        rows = []
        for i, row in enumerate(raw):
            row = table_field(source, f"{at}.tiers[{i}]", row, ("floor", "ratio"))
            rows.append((row["floor"], row["ratio"]))
        tiers = collateral_tiers(source, f"{at}.tiers", rows)
    else:
        ratio = _ratio(source, f"{at}.ratio", t["ratio"])
        tiers = (CollateralTier(Decimal(0), None, ratio, Decimal(0)),)
    floor = decimal_field(source, f"{at}.price_floor", t.get("price_floor", 0))
    if floor < 0:
        raise RulebookError(source, f"{at}.price_floor", t["price_floor"], "a price >= 0")
    settlement = t.get("settlement", False)
    if not isinstance(settlement, bool):
        raise RulebookError(source, f"{at}.settlement", settlement, "true or false")
    return CollateralAsset(
        asset=name,
        tiers=tiers,
        price=_price(source, f"{at}.price", t["price"]),
        price_floor=floor,
        ask_buffer=_ppm_rate(source, f"{at}.ask_buffer", t.get("ask_buffer", 0), hi_open=True),
        auto_exchange_buffer=_ppm_rate(
            source, f"{at}.auto_exchange_buffer", t.get("auto_exchange_buffer", 0), hi_open=True
        ),
        settlement=settlement,
    )


def parse_collateral(source: str, v: Any, quotes: Collection[str]) -> dict[str, CollateralAsset]:
    """The ``[collateral.*]`` tables: one settlement asset, and every instrument quote defined."""
    if not isinstance(v, dict) or not v:
        raise RulebookError(source, "collateral", v, "at least one [collateral.<ASSET>] table")
    assets = {name: _asset(source, name, t) for name, t in v.items()}
    settle = [a for a in assets.values() if a.settlement]
    if len(settle) != 1:
        shown = [a.asset for a in settle] or "none"
        raise RulebookError(
            source, "collateral.*.settlement", shown, "exactly one asset with settlement = true"
        )
    for quote in sorted(set(quotes) - set(assets)):
        raise RulebookError(
            source, "collateral", quote, f"a [collateral.{quote}] table for the instruments' quote"
        )
    return assets


def parse_portfolio(source: str, v: Any, symbols: Collection[str]) -> PortfolioRules:
    """The ``[portfolio]`` table: procedure, negative-balance rule and the fund map."""
    t = table_field(source, "portfolio", v, _PORTFOLIO_KEYS)
    funds_raw = t["funds"]
    if not isinstance(funds_raw, dict):
        raise RulebookError(source, "portfolio.funds", funds_raw, "a table symbol -> fund id")
    if DEFAULT_FUND not in funds_raw:
        raise RulebookError(source, "portfolio.funds.default", "<missing>", "a default fund id")
    pairs = []
    for sym, fund in funds_raw.items():
        fld = f"portfolio.funds.{sym}"
        if sym != DEFAULT_FUND and sym not in symbols:
            raise RulebookError(source, fld, fund, f"a key among default, {', '.join(symbols)}")
        fund_id = str_field(source, fld, fund)
        if sym != DEFAULT_FUND:
            pairs.append((sym, fund_id))
    return PortfolioRules(
        procedure=str_field(source, "portfolio.procedure", t["procedure"], PROCEDURES),
        negative_balance=str_field(
            source, "portfolio.negative_balance", t["negative_balance"], NEGATIVE_BALANCE_RULES
        ),
        default_fund=str_field(source, "portfolio.funds.default", funds_raw[DEFAULT_FUND]),
        fund_pairs=tuple(pairs),
    )


def lookup_asset(collateral: Mapping[str, CollateralAsset], name: str) -> CollateralAsset:
    """The asset named ``name``; InvalidInputError names it and lists the defined assets."""
    try:
        return collateral[name]
    except KeyError:
        raise InvalidInputError(
            "collateral asset", name, f"one of {', '.join(collateral)} (defined by the rulebook)"
        ) from None
