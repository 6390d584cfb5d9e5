"""Instruments, margin tiers and rulebooks, read from TOML files.

A rulebook is one venue's rules as data: the mark-price and funding method, the liquidation
policy (a name plus its parameters), the ADL ranking, the instruments with their margin tiers,
the collateral assets and the portfolio rules (:mod:`margincall.venue.collateral_rules`). Four are
packaged (``RULEBOOKS``); each names ``BTCUSDT``, ``ETHUSDT``, ``SOLUSDT`` and ``WIFUSDT`` so a
scenario can switch venue without renaming symbols (the venue's own name is ``native_symbol``).

Numbers in the files are exact decimals: write them as strings (``"0.004"``), integers, or bare
TOML floats, which are read from their text with ``parse_float=Decimal`` (so ``0.1`` is exactly
one tenth). Every table rejects keys it does not know, so typos do not pass silently. Errors are
`RulebookError` naming the file, the dotted field (``instruments.BTCUSDT.tiers[2].mmr``) and the
value.

Example:
    >>> rb = load_rulebook("binance")
    >>> btc = rb.instrument("BTCUSDT")
    >>> btc.tier_for_notional(264_000), btc.maintenance_margin_usd(500_000)
    (2, Decimal('3700.000'))
"""

from __future__ import annotations

import tomllib
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from decimal import ROUND_CEILING, Decimal
from fractions import Fraction
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from margincall.core.errors import InvalidInputError, RulebookError
from margincall.core.units import MICROS_PER_USD, Number, Scale, to_decimal
from margincall.venue.collateral_rules import (
    CollateralAsset,
    PortfolioRules,
    lookup_asset,
    parse_collateral,
    parse_portfolio,
)
from margincall.venue.toml_fields import (
    decimal_field,
    int_field,
    positive_field,
    rate_field,
    str_field,
    table_field,
)

RULEBOOKS = ("binance", "bitmex", "dydx", "hyperliquid")
MARK_METHODS = ("median", "fair", "oracle", "hyperliquid")
FUNDING_FORMULAS = ("clamped", "dydx")
ADL_RANKINGS = (
    "binance_leverage_pnl",
    "bitmex_pnl_leverage",
    "hyperliquid_index",
    "dydx_random",
    "pro_rata",
)
ADL_CLOSE_PRICES = ("bankruptcy", "mark", "oracle")
PPM = 1_000_000
PPB = 1_000_000_000

# Parameters of each liquidation policy: key -> kind. A tuple kind is a choice of strings;
# "usd" is a Decimal >= 0, "rate" a Decimal in (0, 1], "fraction" a Fraction in (0, 1] written
# "2/3" (for ratios no decimal holds exactly), "ppm" and "int" non-negative ints, "bool" a boolean.
LIQUIDATION_PARAMS: dict[str, dict[str, str | tuple[str, ...]]] = {
    "binance": {
        "order_type": ("ioc",),
        "partial_to_lower_tier": "bool",
        "takeover_price": ("bankruptcy",),
    },
    "bitmex": {
        "order_type": ("limit_at_bankruptcy",),
        "high_tier_order_type": ("fok",),
        "keep_maintenance_margin": "bool",
    },
    "hyperliquid": {
        "partial_threshold_usd": "usd",
        "partial_fraction": "rate",
        "partial_cooldown_seconds": "int",
        "backstop_ratio": "fraction",
    },
    "dydx": {
        "bankruptcy_adjustment_ppm": "ppm",
        "spread_to_maintenance_margin_ratio_ppm": "ppm",
        "max_liquidation_fee_ppm": "ppm",
        "max_position_portion_ppm": "ppm",
        "min_position_notional_usd": "usd",
        "max_notional_liquidated_per_block_usd": "usd",
        "max_insurance_lost_per_block_usd": "usd",
        "max_liquidation_attempts_per_block": "int",
        "max_deleveraging_attempts_per_block": "int",
        "max_deleveraging_subaccounts_to_iterate": "int",
    },
}

_FUNDING_KEYS = ("funding_interval_hours", "funding_interest_per_8h", "funding_clamp",
                 "funding_cap_per_interval")  # fmt: skip
_RULEBOOK_KEYS = ("name", "mark", "funding_formula", *_FUNDING_KEYS)
_INSTRUMENT_KEYS = ("native_symbol", "base", "quote", "tick_size", "lot_size", "maker_fee",
                    "taker_fee", "liquidation_fee", "price_band", "impact_notional_usd",
                    "tiers")  # fmt: skip
_INSTRUMENT_OPTIONAL = (*_FUNDING_KEYS, "open_interest_lower_cap_usd",
                        "open_interest_upper_cap_usd")  # fmt: skip
_TIER_KEYS = ("floor_usd", "max_leverage", "mmr")


@dataclass(frozen=True)
class MarginTier:
    """One margin tier (bracket, risk-limit step): MM = notional·mmr − cum_usd on [floor, cap)."""

    floor_usd: Decimal
    cap_usd: Decimal | None
    max_leverage: Decimal
    mmr: Decimal
    cum_usd: Decimal

    @property
    def imr(self) -> Decimal:
        """Initial margin rate at this tier's max leverage, 1/max_leverage (28-digit Decimal)."""
        return 1 / self.max_leverage


def _whole(value: Decimal, source: str, fld: str, raw: Any, unit: str) -> int:
    if value != value.to_integral_value():
        raise RulebookError(source, fld, str(raw), f"a whole number of {unit}")
    return int(value)


def make_tiers(
    rows: Sequence[tuple[Number, Number, Number, Number | None]],
    *,
    source: str = "<tiers>",
    prefix: str = "tiers",
) -> tuple[MarginTier, ...]:
    """Build and check margin tiers from ``(floor_usd, max_leverage, mmr, cum_usd or None)`` rows.

    The cap of a tier is the next floor; cum follows cum_1 = 0, cum_n = cum_{n−1} +
    floor_n·(mmr_n − mmr_{n−1}), which makes MM continuous. A given cum must equal it.

    Example:
        >>> [t.cum_usd for t in make_tiers([(0, 125, "0.004", None), (50_000, 100, "0.005", 50)])]
        [Decimal('0'), Decimal('50.000')]
    """
    if not rows:
        raise RulebookError(source, prefix, [], "at least one tier")
    floors: list[Decimal] = []
    levs: list[Decimal] = []
    mmrs: list[Decimal] = []
    cums: list[Decimal] = []
    for i, (floor_raw, lev_raw, mmr_raw, cum_raw) in enumerate(rows):
        at = f"{prefix}[{i}]"
        floor = decimal_field(source, f"{at}.floor_usd", floor_raw)
        lev = decimal_field(source, f"{at}.max_leverage", lev_raw)
        mmr = decimal_field(source, f"{at}.mmr", mmr_raw)
        if i == 0 and floor != 0:
            raise RulebookError(source, f"{at}.floor_usd", str(floor_raw), "0 for the first tier")
        if i > 0 and floor <= floors[-1]:
            raise RulebookError(
                source, f"{at}.floor_usd", str(floor_raw), f"a floor above {floors[-1]}"
            )
        _whole(floor * MICROS_PER_USD, source, f"{at}.floor_usd", floor_raw, "micro-dollars")
        if lev <= 0:
            raise RulebookError(source, f"{at}.max_leverage", str(lev_raw), "a positive number")
        if i > 0 and lev > levs[-1]:
            raise RulebookError(
                source, f"{at}.max_leverage", str(lev_raw), f"at most {levs[-1]} (non-increasing)"
            )
        if not 0 < mmr < 1:
            raise RulebookError(source, f"{at}.mmr", str(mmr_raw), "a rate in (0, 1)")
        _whole(mmr * PPM, source, f"{at}.mmr", mmr_raw, "ppm (parts per million)")
        if i > 0 and mmr < mmrs[-1]:
            raise RulebookError(
                source, f"{at}.mmr", str(mmr_raw), f"at least {mmrs[-1]} (non-decreasing)"
            )
        if mmr * lev >= 1:  # exact form of 1/max_leverage <= mmr
            raise RulebookError(
                source,
                f"{at}.max_leverage",
                str(lev_raw),
                f"an initial margin rate 1/max_leverage above mmr {mmr}",
            )
        cum = Decimal(0) if i == 0 else cums[-1] + floor * (mmr - mmrs[-1])
        _whole(cum * MICROS_PER_USD, source, f"{at}.cum_usd", cum, "micro-dollars")
        if cum_raw is not None and decimal_field(source, f"{at}.cum_usd", cum_raw) != cum:
            raise RulebookError(
                source,
                f"{at}.cum_usd",
                str(cum_raw),
                f"{cum} (cum_(n-1) + floor_n*(mmr_n - mmr_(n-1)), continuous MM)",
            )
        floors.append(floor)
        levs.append(lev)
        mmrs.append(mmr)
        cums.append(cum)
    caps: list[Decimal | None] = [*floors[1:], None]
    return tuple(MarginTier(*row) for row in zip(floors, caps, levs, mmrs, cums, strict=True))


def _ro(values: list[int]) -> np.ndarray:
    a = np.asarray(values, dtype=np.int64)
    a.flags.writeable = False
    return a


@dataclass(frozen=True)
class Instrument:
    """A perpetual contract: grid, fees, funding parameters and margin tiers.

    The integer views (``tier_*``, ``*_ppm``, ``*_ppb``) are what the engine's kernels use; they
    are read-only int64 arrays or ints. IMR ppm is ``ceil(1e6 / max_leverage)``: rounded up when
    the leverage does not divide 1e6 (75x → 13,334 ppm), so the integer engine never asks for less
    initial margin than the venue.
    """

    symbol: str
    native_symbol: str
    base: str
    quote: str
    rulebook: str
    scale: Scale
    tiers: tuple[MarginTier, ...]
    maker_fee: Decimal
    taker_fee: Decimal
    liquidation_fee: Decimal
    price_band: Decimal
    impact_notional_usd: Decimal
    funding_interval_hours: int
    funding_interest_per_8h: Decimal
    funding_clamp: Decimal
    funding_cap_per_interval: Decimal
    open_interest_lower_cap_usd: Decimal = Decimal(0)
    open_interest_upper_cap_usd: Decimal = Decimal(0)
    tier_floor_micros: np.ndarray = field(init=False, repr=False, compare=False)
    tier_mmr_ppm: np.ndarray = field(init=False, repr=False, compare=False)
    tier_cum_micros: np.ndarray = field(init=False, repr=False, compare=False)
    tier_imr_ppm: np.ndarray = field(init=False, repr=False, compare=False)
    maker_fee_ppm: int = field(init=False, repr=False, compare=False)
    taker_fee_ppm: int = field(init=False, repr=False, compare=False)
    liquidation_fee_ppm: int = field(init=False, repr=False, compare=False)
    funding_interest_ppb: int = field(init=False, repr=False, compare=False)
    funding_clamp_ppb: int = field(init=False, repr=False, compare=False)
    funding_cap_ppb: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        src, at = self.rulebook, f"instruments.{self.symbol}"
        rows = [(t.floor_usd, t.max_leverage, t.mmr, t.cum_usd) for t in self.tiers]
        if make_tiers(rows, source=src, prefix=f"{at}.tiers") != tuple(self.tiers):
            raise RulebookError(src, f"{at}.tiers", self.tiers, "caps equal to the next floor")
        sets: dict[str, object] = {
            "tier_floor_micros": _ro([int(t.floor_usd * MICROS_PER_USD) for t in self.tiers]),
            "tier_mmr_ppm": _ro([int(t.mmr * PPM) for t in self.tiers]),
            "tier_cum_micros": _ro([int(t.cum_usd * MICROS_PER_USD) for t in self.tiers]),
            "tier_imr_ppm": _ro(
                [int((PPM / t.max_leverage).to_integral_value(ROUND_CEILING)) for t in self.tiers]
            ),
        }
        for name in ("maker_fee", "taker_fee", "liquidation_fee"):
            v = getattr(self, name)
            sets[f"{name}_ppm"] = _whole(v * PPM, src, f"{at}.{name}", v, "ppm")
        for name, key in (
            ("funding_interest_ppb", "funding_interest_per_8h"),
            ("funding_clamp_ppb", "funding_clamp"),
            ("funding_cap_ppb", "funding_cap_per_interval"),
        ):
            v = getattr(self, key)
            sets[name] = _whole(v * PPB, src, f"{at}.{key}", v, "ppb")
        for name, value in sets.items():
            object.__setattr__(self, name, value)

    def tier_for_notional(self, notional_usd: Number) -> int:
        """Index of the tier whose [floor, cap) holds ``notional_usd`` (≥ 0; floors inclusive)."""
        n = to_decimal(notional_usd, "notional_usd")
        if n < 0:
            raise InvalidInputError("notional_usd", notional_usd, "a non-negative notional")
        return bisect_right([t.floor_usd for t in self.tiers], n) - 1

    def maintenance_margin_usd(self, notional_usd: Number) -> Decimal:
        """Maintenance margin of a position of this notional: notional·mmr − cum (exact)."""
        t = self.tiers[self.tier_for_notional(notional_usd)]
        return to_decimal(notional_usd, "notional_usd") * t.mmr - t.cum_usd


@dataclass(frozen=True)
class Rulebook:
    """One venue's rules: mark and funding method, liquidation policy, ADL ranking, instruments.

    ``liquidation`` holds ``policy`` (one of ``LIQUIDATION_PARAMS``) and that policy's parameters:
    Decimal for rates and dollar amounts, int for ppm values and counts, Fraction for ratios such
    as Hyperliquid's backstop ``2/3`` (``str()`` gives ``"2/3"``), bool and str for switches. ``funding_clamp`` is the ±clamp
    on (interest − premium) for the ``clamped`` formula, and the ±clamp on the whole 8 h rate for
    the ``dydx`` formula.
    """

    name: str
    mark: str
    funding_formula: str
    funding_interval_hours: int
    funding_interest_per_8h: Decimal
    funding_clamp: Decimal
    funding_cap_per_interval: Decimal
    liquidation: Mapping[str, Any]
    adl_ranking: str
    adl_close_price: str
    instruments: Mapping[str, Instrument]
    collateral: Mapping[str, CollateralAsset]
    portfolio: PortfolioRules
    source: str = ""
    description: str = ""
    liquidation_feed_per_second: int = 0
    """Forced-close orders the venue's public feed publishes per second and instrument, the
    latest of each second (0: every one); :mod:`margincall.report.feed` applies it."""

    def __post_init__(self) -> None:
        for name in (
            "liquidation",
            "instruments",
            "collateral",
        ):  # read-only views of private copies
            object.__setattr__(self, name, MappingProxyType(dict(getattr(self, name))))

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # mappingproxy does not pickle; rebuild from plain dicts (sweeps ship rulebooks to workers)
        values = (getattr(self, f.name) for f in fields(self))
        return (type(self), tuple(dict(v) if isinstance(v, Mapping) else v for v in values))

    @property
    def symbols(self) -> tuple[str, ...]:
        """Instrument symbols in file order."""
        return tuple(self.instruments)

    def instrument(self, symbol: str) -> Instrument:
        """The instrument named ``symbol``; InvalidInputError lists the valid symbols."""
        try:
            return self.instruments[symbol]
        except KeyError:
            raise InvalidInputError("symbol", symbol, f"one of {', '.join(self.symbols)}") from None

    def collateral_asset(self, name: str) -> CollateralAsset:
        """The collateral asset ``name``; InvalidInputError names it and lists the defined ones."""
        return lookup_asset(self.collateral, name)

    @property
    def settlement_asset(self) -> str:
        """The collateral asset the instruments settle in (``settlement = true``)."""
        return next(a.asset for a in self.collateral.values() if a.settlement)

    def fund_for(self, symbol: str) -> str:
        """The insurance-fund id that covers ``symbol`` (R9); unknown symbols are refused."""
        self.instrument(symbol)
        return self.portfolio.funds.get(symbol, self.portfolio.default_fund)


# ---------------------------------------------------------------------------------------------
# Parsing


def _param(source: str, fld: str, v: Any, kind: str | tuple[str, ...]) -> Any:
    if isinstance(kind, tuple):
        return str_field(source, fld, v, kind)
    if kind == "bool":
        if not isinstance(v, bool):
            raise RulebookError(source, fld, v, "true or false")
        return v
    if kind in ("ppm", "int"):
        return int_field(source, fld, v)
    if kind == "fraction":
        try:
            f = (
                Fraction(v)
                if isinstance(v, str | int | Decimal) and not isinstance(v, bool)
                else None
            )
        except (ValueError, ZeroDivisionError):
            f = None
        if f is None or not 0 < f <= 1:
            raise RulebookError(source, fld, v, 'a fraction in (0, 1] such as "2/3" or "0.2"')
        return f
    if kind == "rate":
        return rate_field(source, fld, v, Decimal(0), Decimal(1), lo_open=True)
    d = decimal_field(source, fld, v)
    if d < 0:
        raise RulebookError(source, fld, v, "a non-negative amount")
    return d


def _funding(
    source: str, at: str, t: Mapping[str, Any], default: Mapping[str, Any]
) -> dict[str, Any]:
    get = {k: t.get(k, default.get(k)) for k in _FUNDING_KEYS}
    hours = int_field(source, f"{at}.funding_interval_hours", get["funding_interval_hours"])
    if hours < 1:
        raise RulebookError(source, f"{at}.funding_interval_hours", hours, "at least 1 hour")
    one = Decimal(1)
    return {
        "funding_interval_hours": hours,
        "funding_interest_per_8h": rate_field(
            source,
            f"{at}.funding_interest_per_8h",
            get["funding_interest_per_8h"],
            -one,
            one,
            lo_open=False,
        ),
        "funding_clamp": rate_field(
            source, f"{at}.funding_clamp", get["funding_clamp"], Decimal(0), one, lo_open=False
        ),
        "funding_cap_per_interval": rate_field(
            source,
            f"{at}.funding_cap_per_interval",
            get["funding_cap_per_interval"],
            Decimal(0),
            one,
            lo_open=True,
        ),
    }


def _instrument(
    source: str, rb: str, symbol: str, t: Any, funding: Mapping[str, Any]
) -> Instrument:
    at = f"instruments.{symbol}"
    t = table_field(source, at, t, _INSTRUMENT_KEYS, _INSTRUMENT_OPTIONAL)
    tick = positive_field(source, f"{at}.tick_size", t["tick_size"])
    lot = positive_field(source, f"{at}.lot_size", t["lot_size"])
    if (tick * lot * MICROS_PER_USD) % 1 != 0:
        raise RulebookError(
            source, f"{at}.tick_size*lot_size", str(tick * lot), "a whole number of micro-dollars"
        )
    tiers_raw = t["tiers"]
    if not isinstance(tiers_raw, list):
        raise RulebookError(source, f"{at}.tiers", tiers_raw, "an array of tier tables")
    rows = []
    for i, row in enumerate(tiers_raw):
        row = table_field(source, f"{at}.tiers[{i}]", row, _TIER_KEYS, ("cum_usd",))
        rows.append((row["floor_usd"], row["max_leverage"], row["mmr"], row.get("cum_usd")))
    one, zero = Decimal(1), Decimal(0)
    oi = {
        k: _param(source, f"{at}.{k}", t.get(k, 0), "usd")
        for k in ("open_interest_lower_cap_usd", "open_interest_upper_cap_usd")
    }
    lo, hi = oi["open_interest_lower_cap_usd"], oi["open_interest_upper_cap_usd"]
    if hi != 0 and hi <= lo:  # an upper cap of 0 disables open-interest scaling (dYdX)
        raise RulebookError(
            source, f"{at}.open_interest_upper_cap_usd", str(hi), f"0 (off) or above {lo}"
        )
    try:
        return Instrument(
            symbol=symbol,
            native_symbol=str_field(source, f"{at}.native_symbol", t["native_symbol"]),
            base=str_field(source, f"{at}.base", t["base"]),
            quote=str_field(source, f"{at}.quote", t["quote"]),
            rulebook=rb,
            scale=Scale(tick_size=tick, lot_size=lot),
            tiers=make_tiers(rows, source=source, prefix=f"{at}.tiers"),
            maker_fee=rate_field(
                source, f"{at}.maker_fee", t["maker_fee"], -one, one, lo_open=True
            ),
            taker_fee=rate_field(
                source, f"{at}.taker_fee", t["taker_fee"], zero, one, lo_open=False
            ),
            liquidation_fee=rate_field(
                source, f"{at}.liquidation_fee", t["liquidation_fee"], zero, one, lo_open=False
            ),
            price_band=rate_field(
                source, f"{at}.price_band", t["price_band"], zero, one, lo_open=True
            ),
            impact_notional_usd=positive_field(
                source, f"{at}.impact_notional_usd", t["impact_notional_usd"]
            ),
            **_funding(source, at, t, funding),
            **oi,
        )
    except RulebookError as e:  # re-raise the dataclass's own checks against the file name
        raise RulebookError(source, e.field, e.value, e.expected) from None


def rulebook_from_dict(data: Mapping[str, Any], source: str = "<dict>") -> Rulebook:
    """Build a `Rulebook` from an already-parsed mapping (the TOML layout).

    Use this for variants built in code (sweeps). Python floats are read by their repr.
    """
    top = table_field(
        source, "", dict(data), ("rulebook", "liquidation", "adl", "instruments", "collateral",
                                 "portfolio")
    )  # fmt: skip
    head = table_field(
        source, "rulebook", top["rulebook"], _RULEBOOK_KEYS,
        ("description", "liquidation_feed_per_second"),
    )  # fmt: skip
    name = str_field(source, "rulebook.name", head["name"])
    funding = _funding(source, "rulebook", head, {})
    liq_raw = top["liquidation"]
    if not isinstance(liq_raw, dict):
        raise RulebookError(source, "liquidation", liq_raw, "a table")
    policy = str_field(
        source, "liquidation.policy", liq_raw.get("policy"), tuple(LIQUIDATION_PARAMS)
    )
    kinds = LIQUIDATION_PARAMS[policy]
    liq_raw = table_field(source, "liquidation", liq_raw, ("policy", *kinds))
    liquidation = {"policy": policy}
    liquidation.update({k: _param(source, f"liquidation.{k}", liq_raw[k], kinds[k]) for k in kinds})
    adl = table_field(source, "adl", top["adl"], ("ranking", "close_price"))
    instruments_raw = top["instruments"]
    if not isinstance(instruments_raw, dict) or not instruments_raw:
        raise RulebookError(source, "instruments", instruments_raw, "at least one instrument")
    instruments = {
        sym: _instrument(source, name, sym, t, funding) for sym, t in instruments_raw.items()
    }
    return Rulebook(
        name=name,
        mark=str_field(source, "rulebook.mark", head["mark"], MARK_METHODS),
        funding_formula=str_field(
            source, "rulebook.funding_formula", head["funding_formula"], FUNDING_FORMULAS
        ),
        liquidation=liquidation,
        adl_ranking=str_field(source, "adl.ranking", adl["ranking"], ADL_RANKINGS),
        adl_close_price=str_field(source, "adl.close_price", adl["close_price"], ADL_CLOSE_PRICES),
        instruments=instruments,
        collateral=parse_collateral(
            source, top["collateral"], {i.quote for i in instruments.values()}
        ),
        portfolio=parse_portfolio(source, top["portfolio"], tuple(instruments)),
        source=source,
        description=str(head.get("description", "")),
        liquidation_feed_per_second=int_field(
            source, "rulebook.liquidation_feed_per_second",
            head.get("liquidation_feed_per_second", 0),
        ),
        **funding,
    )  # fmt: skip


def load_rulebook(name_or_path: str | Path) -> Rulebook:
    """Load a packaged rulebook by name (``RULEBOOKS``) or a TOML file by path.

    A string with a suffix or a slash is a path; a bare word is a packaged name.

    Raises:
        InvalidInputError: unknown name or unreadable file.
        RulebookError: the file is not valid TOML or breaks a rule; names file, field and value.
    """
    s = str(name_or_path)
    if isinstance(name_or_path, Path) or "/" in s or "\\" in s or Path(s).suffix:
        path = Path(s)
        source = str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as e:
            raise InvalidInputError("rulebook", s, f"a readable TOML file ({e.strerror})") from None
    else:
        if s not in RULEBOOKS:
            raise InvalidInputError(
                "rulebook", s, f"one of {', '.join(RULEBOOKS)} or a path to a .toml file"
            )
        res = resources.files("margincall.venue").joinpath("rulebooks", f"{s}.toml")
        source = str(res)
        text = res.read_text(encoding="utf-8")
    try:
        data = tomllib.loads(text, parse_float=Decimal)
    except tomllib.TOMLDecodeError as e:
        raise RulebookError(source, "<toml>", str(e), "valid TOML") from None
    return rulebook_from_dict(data, source)
