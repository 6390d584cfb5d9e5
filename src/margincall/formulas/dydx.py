"""dYdX v4 margin, liquidation and deleveraging math, exact to the quote quantum.

Units (as on chain):

- Quote quantums: 1e-6 USDC. Every money amount here (balances, notionals, margin requirements,
  bankruptcy amounts, insurance-fund deltas) is a Python ``int`` in quote quantums.
- Base quantums: ``10**atomic_resolution`` of one coin (BTC uses -8, so 10,000,000 = 0.1 BTC).
  Positions are signed ints, long > 0.
- Oracle prices are exact rationals in USD per whole coin (``Fraction``, ``int``, ``Decimal`` or a
  decimal string; floats are refused because they are not exact).
- Subticks: the order-book price unit; ``quote quantums = subticks * base quantums *
  10**quantum_conversion_exponent``.
- ppm: parts per million (``1_000_000`` = 100%).

Every rounding follows the protocol (``dydxprotocol/v4-chain``): notionals truncate toward zero,
margin requirements round up, the bankruptcy amount rounds toward +inf, and fillable prices stay
rationals until converted to subticks. Results are therefore bit-for-bit comparable with the
chain's unit tests (vectors D1-D28 in ``tests/formulas/test_dydx.py``).

This is a formula module, not an engine part: pure functions on exact ints and Fractions that a
user calls to check a chain's numbers, holding no venue state; nothing in the engine imports it.
The engine's dYdX policy is the integer waterfall in :mod:`margincall.venue.liquidation`.

Example:
    >>> btc = Perpetual(atomic_resolution=-8, oracle_price=50_000, imf_ppm=200_000,
    ...                 maintenance_fraction_ppm=500_000)
    >>> carl = Subaccount(usdc=-4_501_000_000, positions={0: 10_000_000})  # 0.1 BTC long
    >>> subaccount_risk(carl, {0: btc})
    Risk(nc=499000000, imr=1000000000, mmr=500000000)
    >>> bankruptcy_quote_quantums(carl, {0: btc}, 0, -10_000_000)
    4501000000
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import NamedTuple

from margincall.core.errors import InvalidInputError, MarginCallError

QUOTE_ATOMIC_RESOLUTION = -6
"""USDC quote quantums are 10**-6 USDC."""

ONE_MILLION = 1_000_000
"""One in parts per million."""

PriceLike = Fraction | int | Decimal | str

_UINT32_MAX = 2**32 - 1  # the chain stores these ppm parameters as uint32


class DeleveragingRejected(MarginCallError):
    """A deleveraging step would leave one of the two subaccounts in a disallowed state.

    The chain reports this as ``ErrFailedToUpdateSubaccounts``: the bankruptcy prices of the
    liquidated and the offsetting position do not overlap.
    """


def _int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInputError(name, value, "an integer")
    return value


def _ppm(name: str, value: object, low: int = 0, high: int = ONE_MILLION) -> int:
    v = _int(name, value)
    if not low <= v <= high:
        raise InvalidInputError(name, value, f"an integer ppm in [{low}, {high}]")
    return v


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def _to_price(name: str, value: object) -> Fraction:
    if isinstance(value, bool) or not isinstance(value, Fraction | int | Decimal | str):
        raise InvalidInputError(name, value, "an exact price (Fraction, int, Decimal or str)")
    try:
        price = Fraction(value)
    except (ValueError, ZeroDivisionError):
        raise InvalidInputError(name, value, "an exact price") from None
    if price <= 0:
        raise InvalidInputError(name, value, "a positive price")
    return price


@dataclass(frozen=True)
class Perpetual:
    """One perpetual market: size resolution, liquidity-tier fractions and the oracle price.

    Attributes:
        atomic_resolution: base quantum = ``10**atomic_resolution`` coins (BTC: -8).
        oracle_price: USD per whole coin, stored as a ``Fraction``.
        imf_ppm: initial margin fraction of the liquidity tier, in (0, 1e6].
        maintenance_fraction_ppm: maintenance margin as a share of the initial margin, [0, 1e6].
    """

    atomic_resolution: int
    oracle_price: PriceLike
    imf_ppm: int
    maintenance_fraction_ppm: int

    def __post_init__(self) -> None:
        _int("atomic_resolution", self.atomic_resolution)
        object.__setattr__(self, "oracle_price", _to_price("oracle_price", self.oracle_price))
        _ppm("imf_ppm", self.imf_ppm, low=1)
        _ppm("maintenance_fraction_ppm", self.maintenance_fraction_ppm)


@dataclass(frozen=True)
class Subaccount:
    """A cross-margined subaccount: a USDC balance and signed perpetual positions.

    Attributes:
        usdc: USDC balance in quote quantums (negative when borrowing against positions).
        positions: perpetual id -> signed base quantums; zero positions are dropped.
    """

    usdc: int
    positions: Mapping[int, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _int("usdc", self.usdc)
        clean = {}
        for pid, q in self.positions.items():
            if _int(f"positions[{pid!r}]", q) != 0:
                clean[_int("positions (perpetual id)", pid)] = q
        object.__setattr__(self, "positions", clean)

    def __hash__(self) -> int:
        return hash((self.usdc, frozenset(self.positions.items())))


class Risk(NamedTuple):
    """Net collateral and margin requirements, all in quote quantums."""

    nc: int
    imr: int
    mmr: int


class NotionalLimits(NamedTuple):
    """Per-position liquidation size limits, in quote quantums."""

    min: int
    max: int


# ---------------------------------------------------------------------------------------------
# Notional and margin requirements.


def price_per_quantum(atomic_resolution: int, price: PriceLike) -> Fraction:
    """Quote quantums per base quantum for a price in USD per coin.

    Example:
        >>> price_per_quantum(-8, 50_000)  # $50,000/BTC = 500 quote quantums per satoshi
        Fraction(500, 1)
    """
    exponent = _int("atomic_resolution", atomic_resolution) - QUOTE_ATOMIC_RESOLUTION
    return _to_price("price", price) * Fraction(10) ** exponent


def position_notional(quantums: int, atomic_resolution: int, price: PriceLike) -> int:
    """Signed notional of a position in quote quantums, truncated toward zero.

    The chain computes the exact rational and keeps the integer quotient (Go ``big.Int.Quo``),
    so a long's notional rounds down and a short's rounds up.

    Example:
        >>> position_notional(10_000_000, -8, 50_000)  # 0.1 BTC at $50,000 = $5,000
        5000000000
    """
    exact = _int("quantums", quantums) * price_per_quantum(atomic_resolution, price)
    whole = abs(exact.numerator) // exact.denominator
    return whole if exact >= 0 else -whole


def initial_requirement(notional: int, imf_ppm: int) -> int:
    """Initial margin of a notional at an initial margin fraction: ``|notional| * imf``, up."""
    return _ceil_div(abs(_int("notional", notional)) * _ppm("imf_ppm", imf_ppm), ONE_MILLION)


def maintenance_requirement(notional: int, imf_ppm: int, maintenance_fraction_ppm: int) -> int:
    """Maintenance margin: the base initial margin (rounded up) times the fraction, rounded up.

    Example:
        >>> maintenance_requirement(5_000_000_000, 200_000, 500_000)  # 10% of $5,000
        500000000
    """
    base = initial_requirement(notional, imf_ppm)
    mf = _ppm("maintenance_fraction_ppm", maintenance_fraction_ppm)
    return _ceil_div(base * mf, ONE_MILLION)


def adjusted_initial_margin_ppm(
    imf_ppm: int, lower_cap: int, upper_cap: int, oi_notional: int
) -> int:
    """Open-interest-scaled initial margin fraction (OIMF), in ppm, floored.

    Base IMF up to the lower cap, rising linearly to 100% at the upper cap; an upper cap of 0
    disables the scaling. Caps and open-interest notional share one unit (quote quantums).

    Example:
        >>> adjusted_initial_margin_ppm(200_000, 1_000_000, 2_000_000, 1_234_567)
        387653
    """
    imf = _ppm("imf_ppm", imf_ppm)
    lo = _int("lower_cap", lower_cap)
    hi = _int("upper_cap", upper_cap)
    oi = _int("oi_notional", oi_notional)
    if hi != 0 and not 0 <= lo < hi:
        raise InvalidInputError("upper_cap", upper_cap, f"0 or a cap above lower_cap={lo}")
    if hi == 0 or oi <= lo:
        return imf
    if oi >= hi:
        return ONE_MILLION
    return imf + (ONE_MILLION - imf) * (oi - lo) // (hi - lo)


def _perp(perps: Mapping[int, Perpetual], perp_id: int) -> Perpetual:
    if perp_id not in perps:
        raise InvalidInputError(f"perps[{perp_id!r}]", None, "a known perpetual id")
    return perps[perp_id]


def position_risk(perp: Perpetual, quantums: int) -> Risk:
    """Notional (as NC) and base initial / maintenance requirements of one position."""
    nc = position_notional(quantums, perp.atomic_resolution, perp.oracle_price)
    return Risk(
        nc,
        initial_requirement(nc, perp.imf_ppm),
        maintenance_requirement(nc, perp.imf_ppm, perp.maintenance_fraction_ppm),
    )


def subaccount_risk(sub: Subaccount, perps: Mapping[int, Perpetual]) -> Risk:
    """Total net collateral (TNC), initial (TIMR) and maintenance (TMMR) requirements.

    The initial requirement uses each tier's base IMF; open-interest scaling
    (`adjusted_initial_margin_ppm`) is left to callers that track open interest.
    """
    nc, imr, mmr = sub.usdc, 0, 0
    for pid, q in sub.positions.items():
        r = position_risk(_perp(perps, pid), q)
        nc, imr, mmr = nc + r.nc, imr + r.imr, mmr + r.mmr
    return Risk(nc, imr, mmr)


def net_collateral(sub: Subaccount, perps: Mapping[int, Perpetual]) -> int:
    """TNC: USDC balance plus the signed notionals, in quote quantums."""
    return subaccount_risk(sub, perps).nc


def total_maintenance_requirement(sub: Subaccount, perps: Mapping[int, Perpetual]) -> int:
    """TMMR: sum of the positions' maintenance requirements, in quote quantums."""
    return subaccount_risk(sub, perps).mmr


# ---------------------------------------------------------------------------------------------
# Risk predicates (protocol/lib/margin/risk.go, protocol/x/subaccounts/lib/updates.go).


def is_liquidatable(nc: int, mmr: int) -> bool:
    """Liquidatable iff the maintenance requirement is positive and exceeds net collateral."""
    return _int("mmr", mmr) > 0 and mmr > _int("nc", nc)


def risk_cmp(nc_a: int, mmr_a: int, nc_b: int, mmr_b: int) -> int:
    """Compare accounts by ``NC/MMR`` without dividing: -1 when A is less risky, 0, or +1.

    Example:
        >>> risk_cmp(100, 50, 100, 100)  # ratio 2 beats ratio 1
        -1
    """
    lhs = _int("nc_b", nc_b) * _int("mmr_a", mmr_a)
    rhs = _int("nc_a", nc_a) * _int("mmr_b", mmr_b)
    return (lhs > rhs) - (lhs < rhs)


def is_valid_transition(before: Risk, after: Risk) -> bool:
    """The chain's rule for updating a subaccount, liquidations and deleveraging included.

    Allowed when the account ends initially collateralized. Otherwise the maintenance requirement
    may not increase and the NC/MMR ratio may not worsen; with a zero requirement on either side
    only a flat-to-flat move that raises net collateral is allowed.
    """
    if after.nc >= after.imr:
        return True
    if after.mmr > before.mmr:
        return False
    if after.mmr == 0 or before.mmr == 0:
        return after.mmr == 0 and before.mmr == 0 and after.nc > before.nc
    return risk_cmp(after.nc, after.mmr, before.nc, before.mmr) <= 0


# ---------------------------------------------------------------------------------------------
# Liquidation pricing (protocol/x/clob/keeper/liquidations.go).


def _closing_delta(position: int, delta: int) -> None:
    if delta == 0 or (position > 0) == (delta > 0) or abs(delta) > abs(position):
        raise InvalidInputError(
            "delta_quantums", delta, f"a non-zero reduction of the position {position}"
        )


def bankruptcy_quote_quantums(
    sub: Subaccount, perps: Mapping[int, Perpetual], perp_id: int, delta_quantums: int
) -> int:
    """Quote quantums the subaccount receives (> 0) or pays (< 0) to close ``delta_quantums``.

    ``BQ = -dNNV - floor(TNC * |dMMR| / TMMR)``: the account's collateral is shared among its
    positions by maintenance margin, so closing at BQ leaves TNC/TMMR unchanged. The floor is
    toward -inf, which rounds BQ toward +inf: closing at BQ never needs an insurance payout.

    Raises:
        InvalidInputError: ``delta_quantums`` does not reduce the position, or TMMR is 0.
    """
    perp = _perp(perps, perp_id)
    position = sub.positions.get(perp_id, 0)
    _closing_delta(position, _int("delta_quantums", delta_quantums))
    total = subaccount_risk(sub, perps)
    if total.mmr == 0:
        raise InvalidInputError("sub", sub, "a subaccount with a maintenance requirement > 0")
    old, new = position_risk(perp, position), position_risk(perp, position + delta_quantums)
    delta_mmr = new.mmr - old.mmr  # <= 0 because the position shrinks
    return -(new.nc - old.nc) - (total.nc * abs(delta_mmr)) // total.mmr


def fillable_price(
    sub: Subaccount,
    perps: Mapping[int, Perpetual],
    perp_id: int,
    bankruptcy_adjustment_ppm: int = ONE_MILLION,
    spread_to_maintenance_margin_ratio_ppm: int = 100_000,
    delta_quantums: int | None = None,
) -> Fraction:
    """Limit price of the liquidation order, in quote quantums per base quantum.

    ``ABR = clamp(BA * (1 - TNC/TMMR), 0, 1)`` and ``FP = (PNNV - ABR * SMMR * PMMR) / PS`` for the
    whole position: at TNC = TMMR the order is priced at the oracle, at TNC <= 0 the full
    ``SMMR * PMMR`` away from it. ``delta_quantums``, if given, is only checked, as on chain.

    Example:
        >>> btc = Perpetual(-8, 50_000, 200_000, 500_000)
        >>> fillable_price(Subaccount(-4_501_000_000, {0: 10_000_000}), {0: btc}, 0)
        Fraction(49999, 100)
    """
    perp = _perp(perps, perp_id)
    position = sub.positions.get(perp_id, 0)
    if position == 0:
        raise InvalidInputError("perp_id", perp_id, "a perpetual the subaccount holds")
    if delta_quantums is not None:
        _closing_delta(position, _int("delta_quantums", delta_quantums))
    ba = _ppm("bankruptcy_adjustment_ppm", bankruptcy_adjustment_ppm, ONE_MILLION, _UINT32_MAX)
    smmr_name = "spread_to_maintenance_margin_ratio_ppm"
    smmr = _ppm(smmr_name, spread_to_maintenance_margin_ratio_ppm, 0, _UINT32_MAX)
    total = subaccount_risk(sub, perps)
    if total.mmr == 0:
        raise InvalidInputError("sub", sub, "a subaccount with a maintenance requirement > 0")
    pos = position_risk(perp, position)
    # ABR: 0 at TNC = TMMR (price at the oracle), 1 once the collateral is gone.
    unbounded = Fraction(ba, ONE_MILLION) * (1 - Fraction(total.nc, total.mmr))
    abr = min(max(unbounded, Fraction(0)), Fraction(1))
    price = (pos.nc - abr * Fraction(smmr, ONE_MILLION) * pos.mmr) / position
    if price < 0:
        raise InvalidInputError(smmr_name, smmr, "a spread that keeps the price >= 0")
    return price


def fillable_price_subticks(
    fillable_price: Fraction,
    is_liquidating_long: bool,
    quantum_conversion_exponent: int,
    subticks_per_tick: int,
) -> int:
    """Convert a fillable price to order subticks on the tick grid.

    A sell closing a long rounds up and a buy closing a short rounds down, both to a whole
    subtick and then to a multiple of ``subticks_per_tick``, so the liquidation order is never
    priced worse for the liquidated account than the fillable price. The result is at least one
    tick.

    Example:
        >>> fp = Fraction(49_999_999_999, 100_000_000)  # $49,999.999999 per BTC
        >>> fillable_price_subticks(fp, True, -8, 5), fillable_price_subticks(fp, False, -8, 5)
        (50000000000, 49999999995)
    """
    fp = Fraction(fillable_price)
    if fp < 0:
        raise InvalidInputError("fillable_price", fillable_price, "a price >= 0")
    spt = _int("subticks_per_tick", subticks_per_tick)
    if spt < 1:
        raise InvalidInputError("subticks_per_tick", subticks_per_tick, "an integer >= 1")
    subticks = fp / Fraction(10) ** _int("quantum_conversion_exponent", quantum_conversion_exponent)
    if is_liquidating_long:
        aligned = _ceil_div(_ceil_div(subticks.numerator, subticks.denominator), spt) * spt
    else:
        aligned = (subticks.numerator // subticks.denominator) // spt * spt
    return max(aligned, spt)


def fill_quote_quantums(subticks: int, base_quantums: int, quantum_conversion_exponent: int) -> int:
    """Quote quantums of a fill: ``subticks * base_quantums * 10**exponent``, rounded down."""
    if _int("subticks", subticks) < 0 or _int("base_quantums", base_quantums) < 0:
        raise InvalidInputError("subticks", subticks, "non-negative subticks and base quantums")
    product = subticks * base_quantums
    exp = _int("quantum_conversion_exponent", quantum_conversion_exponent)
    return product * 10**exp if exp >= 0 else product // 10**-exp


def insurance_fund_delta(
    sub: Subaccount,
    perps: Mapping[int, Perpetual],
    perp_id: int,
    is_buy: bool,
    fill_quantums: int,
    subticks: int,
    quantum_conversion_exponent: int,
    max_liquidation_fee_ppm: int,
) -> int:
    """Insurance-fund transfer for one liquidation fill, in quote quantums.

    With ``q`` the quote quantums the account gets for the fill (negative when buying) and
    ``D = q - BQ``: if ``D <= 0`` the fund pays ``|D|`` (result ``D``, negative); otherwise the
    account pays the fund ``min(max_fee_ppm * |q|, D)``.
    """
    fill = _int("fill_quantums", fill_quantums)
    if fill <= 0:
        raise InvalidInputError("fill_quantums", fill_quantums, "a positive fill size")
    q = fill_quote_quantums(subticks, fill, quantum_conversion_exponent)
    q, delta = (-q, fill) if is_buy else (q, -fill)
    surplus = q - bankruptcy_quote_quantums(sub, perps, perp_id, delta)
    if surplus <= 0:
        return surplus
    fee_ppm = _ppm("max_liquidation_fee_ppm", max_liquidation_fee_ppm)
    return min(abs(q) * fee_ppm // ONE_MILLION, surplus)


def max_and_min_position_notional_liquidatable(
    position_notional: int,
    min_position_notional_liquidated: int,
    max_position_portion_liquidated_ppm: int,
) -> NotionalLimits:
    """Per-position liquidation size limits, as ``NotionalLimits(min, max)``.

    ``min`` is the configured minimum, capped at the position's |notional|; ``max`` is the
    configured portion of |notional| (floored), raised to at least ``min``.

    Example:
        >>> max_and_min_position_notional_liquidatable(50_000_000_000, 100, 500_000)
        NotionalLimits(min=100, max=25000000000)
    """
    absolute = abs(_int("position_notional", position_notional))
    low = min(_int("min_position_notional_liquidated", min_position_notional_liquidated), absolute)
    portion = _ppm("max_position_portion_liquidated_ppm", max_position_portion_liquidated_ppm)
    return NotionalLimits(low, max(low, absolute * portion // ONE_MILLION))


# ---------------------------------------------------------------------------------------------
# Deleveraging (protocol/x/clob/keeper/deleveraging.go).


def deleverage(
    liquidated: Subaccount,
    offsetting: Subaccount,
    perps: Mapping[int, Perpetual],
    perp_id: int,
    delta_quantums: int,
) -> tuple[Subaccount, Subaccount]:
    """Close ``delta_quantums`` of the liquidated position against an opposite position.

    Both sides trade at the liquidated account's bankruptcy amount ``BQ(delta)``: the liquidated
    account receives BQ and moves by ``delta``; the offsetting account pays BQ and moves by
    ``-delta``. Each account's change must pass `is_valid_transition`.

    Returns:
        The updated ``(liquidated, offsetting)`` subaccounts.

    Raises:
        InvalidInputError: ``delta_quantums`` does not reduce the liquidated position or is larger
            than the offsetting position on the other side.
        DeleveragingRejected: the bankruptcy prices do not overlap (an account would get riskier).
    """
    delta = _int("delta_quantums", delta_quantums)
    other = offsetting.positions.get(perp_id, 0)
    if delta == 0 or (other > 0) != (delta > 0) or abs(delta) > abs(other):
        raise InvalidInputError(
            "delta_quantums", delta, f"at most the offsetting position {other}, same side"
        )
    bq = bankruptcy_quote_quantums(liquidated, perps, perp_id, delta)

    def moved(sub: Subaccount, cash: int, size: int) -> Subaccount:
        positions = dict(sub.positions)
        positions[perp_id] = positions.get(perp_id, 0) + size
        return Subaccount(sub.usdc + cash, positions)

    new_liquidated = moved(liquidated, bq, delta)
    new_offsetting = moved(offsetting, -bq, -delta)
    for name, old, new in (
        ("liquidated", liquidated, new_liquidated),
        ("offsetting", offsetting, new_offsetting),
    ):
        before, after = subaccount_risk(old, perps), subaccount_risk(new, perps)
        if not is_valid_transition(before, after):
            raise DeleveragingRejected(
                f"{name} subaccount would go from {before} to {after}: "
                "bankruptcy prices do not overlap"
            )
    return new_liquidated, new_offsetting
