"""Cross margin over several instruments: the account trigger, one leg's liquidation price, the
bankruptcy prices of a portfolio liquidation and each venue's portfolio rules
(portfolio-margin.md §1.2-1.3, §2-§5, rules R1-R9, vectors P1-P12).

Exact arithmetic, as in :mod:`margincall.formulas.collateral`: arguments are ints, Fractions,
Decimals, decimal strings or floats (a float at its exact binary value); results are ``Fraction``
(``float()`` to display) or None where no price exists. Money is in the settlement asset.

A position is a `Leg`: side (``"long"``/``"short"``), size, entry, mark and its maintenance tiers,
``[(floor, rate), ...]`` by notional (Binance brackets, Hyperliquid tiers at 1/(2 max leverage),
BitMEX risk limits) or one bare rate (dYdX's IMF x maintenance fraction). A bracket's maintenance
is ``notional*rate - cum`` with the cum recurrence that makes it continuous
(:func:`margincall.formulas.margin.maintenance_amounts`).

Example (vector P4: long BTC and long ETH in one Binance cross account; ETH alone falls):
    >>> btc = Leg("long", 1, 48_000, 48_000, BINANCE_BTC)
    >>> eth = Leg("long", 80, 2_500, 2_500, BINANCE_ETH)
    >>> round(float(leg_liquidation_price([btc, eth], 1, wallet=50_000)), 6)
    1891.755051
    >>> cross_excess([btc, eth._replace(mark="1891.75")], wallet=50_000)
    Excess(equity=Fraction(1340, 1), maintenance=Fraction(6702, 5), excess=Fraction(-2, 5))
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import NamedTuple

from margincall.core.errors import InvalidInputError
from margincall.formulas import dydx
from margincall.formulas.collateral import Num, exact, non_negative, positive, rate
from margincall.formulas.margin import _sign

BINANCE_BTC = [(0, "0.004"), (50_000, "0.005"), (250_000, "0.01"), (1_000_000, "0.025"),
               (10_000_000, "0.05")]  # fmt: skip
"""Binance BTCUSDT's 2021 brackets (first five), the fixture of vectors P3-P5 and P12."""
BINANCE_ETH = [(0, "0.005"), (10_000, "0.0065"), (100_000, "0.01"), (500_000, "0.02"),
               (1_000_000, "0.05")]  # fmt: skip
"""Binance ETHUSDT's fixture brackets (first five) of vectors P3, P4 and P12."""

STRICT = {"binance": False, "bitmex": False, "dydx": True, "hyperliquid": True}
"""R2: whether a rulebook liquidates only when equity < maintenance (True) or already at ==."""

MMTiers = Num | Sequence[tuple[Num, Num]]


class Leg(NamedTuple):
    """One cross position: side, absolute size, entry and mark price, maintenance tiers."""

    side: str
    qty: Num
    entry: Num
    mark: Num
    tiers: MMTiers


class Excess(NamedTuple):
    """An account's equity, total maintenance margin and excess ``equity - maintenance``."""

    equity: Fraction
    maintenance: Fraction
    excess: Fraction


def mm_tiers(tiers: MMTiers) -> list[tuple[Fraction, Fraction, Fraction]]:
    """Checked ``(floor, rate, cum)`` rows of a maintenance table (or of one bare rate).

    Example:
        >>> [str(c) for _, _, c in mm_tiers(BINANCE_BTC)]
        ['0', '50', '1300', '16300', '266300']
    """
    if isinstance(tiers, str | int | float | Fraction) or not isinstance(tiers, Sequence):
        return [(Fraction(0), rate("tiers", tiers), Fraction(0))]
    if not tiers:
        raise InvalidInputError("tiers", tiers, "a rate or a non-empty list of (floor, rate)")
    rows: list[tuple[Fraction, Fraction, Fraction]] = []
    for i, row in enumerate(tiers):
        if isinstance(row, str) or not isinstance(row, Sequence) or len(row) != 2:
            raise InvalidInputError(f"tiers[{i}]", row, "a (floor, rate) pair")
        floor, r = non_negative(f"tiers[{i}].floor", row[0]), rate(f"tiers[{i}].rate", row[1])
        if i == 0 and floor != 0:
            raise InvalidInputError("tiers[0].floor", row[0], "0 (the first bracket starts at 0)")
        if i > 0 and (floor <= rows[-1][0] or r < rows[-1][1]):
            raise InvalidInputError(
                f"tiers[{i}]", row, "a floor above and a rate at least the previous bracket's"
            )
        rows.append((floor, r, Fraction(0) if i == 0 else rows[-1][2] + floor * (r - rows[-1][1])))
    return rows


def _bracket(rows: list[tuple[Fraction, Fraction, Fraction]], notional: Fraction) -> int:
    return bisect_right([f for f, _, _ in rows], notional) - 1


def _leg(legs: Sequence[Leg], i: int) -> tuple[int, Fraction, Fraction, Fraction]:
    leg = legs[i]
    if not isinstance(leg, Leg):
        raise InvalidInputError(f"legs[{i}]", leg, "a Leg(side, qty, entry, mark, tiers)")
    return (
        _sign(leg.side),
        positive(f"legs[{i}].qty", leg.qty),
        positive(f"legs[{i}].entry", leg.entry),
        positive(f"legs[{i}].mark", leg.mark),
    )


def leg_maintenance(leg: Leg) -> Fraction:
    """Tiered maintenance margin of a leg at its mark: ``Q*MP*rate_k - cum_k``.

    Example:
        >>> leg_maintenance(Leg("long", 80, 2_500, 2_500, BINANCE_ETH))
        Fraction(1635, 1)
    """
    _, q, _, mp = _leg([leg], 0)
    rows = mm_tiers(leg.tiers)
    _, r, cum = rows[_bracket(rows, q * mp)]
    return q * mp * r - cum


def leg_upnl(leg: Leg) -> Fraction:
    """Unrealised PnL of a leg at its mark: ``side*Q*(MP - EP)``."""
    s, q, ep, mp = _leg([leg], 0)
    return s * q * (mp - ep)


def cross_excess(legs: Sequence[Leg], wallet: Num, collateral: Num = 0) -> Excess:
    """The account trigger of every rulebook (R1): ``E = wallet + collateral + sum(UPNL)`` against
    ``MMtot = sum(MM_i)``; the account is breached when the excess is below 0 (or at 0, R2).

    Args:
        legs: the cross legs at their current marks.
        wallet: settlement-asset balance (WB; dYdX's USDC; Hyperliquid's cross USDC).
        collateral: value of other collateral after haircuts (Multi-Assets, Multi Asset Margin).

    Example:
        >>> cross_excess([Leg("long", 1, 100_000, 97_000, "0.005"),
        ...               Leg("long", 20, 4_000, 3_700, "0.01")], wallet=10_000)
        Excess(equity=Fraction(1000, 1), maintenance=Fraction(1225, 1), excess=Fraction(-225, 1))
    """
    e = exact("wallet", wallet) + exact("collateral", collateral)
    for i in range(len(legs)):
        _leg(legs, i)
    e += sum((leg_upnl(leg) for leg in legs), Fraction(0))
    mm = sum((leg_maintenance(leg) for leg in legs), Fraction(0))
    return Excess(e, mm, e - mm)


def is_breached(excess: Num, rulebook: str) -> bool:
    """R2: Binance and BitMEX liquidate at excess <= 0, dYdX and Hyperliquid at excess < 0."""
    if rulebook not in STRICT:
        raise InvalidInputError("rulebook", rulebook, f"one of {', '.join(STRICT)}")
    x = exact("excess", excess)
    return x < 0 if STRICT[rulebook] else x <= 0


def leg_liquidation_price(
    legs: Sequence[Leg], j: int, wallet: Num, collateral: Num = 0, co_moving: Num = 0
) -> Fraction | None:
    """Leg ``j``'s liquidation price with the other legs and the collateral fixed (§1.2).

    ``P* = MP_j - X_k / (side_j*Q_j + c - Q_j*rate_k)`` with ``X_k`` the excess at the current
    marks, leg j's maintenance written in bracket k, iterated until ``Q_j*P*`` lies in bracket k.
    With ``c = 0`` this is ``MP - side*X/(Q*(1 - side*rate))``: Binance's cross formula with
    TMM1/UPNL1 and Hyperliquid's ``margin_available`` formula.

    Args:
        legs, wallet, collateral: as for `cross_excess`.
        j: index of the leg whose mark moves.
        co_moving: collateral value gained per unit rise of leg j's mark: ``x*r`` of collateral
            priced off leg j's underlying (BitMEX XBT margin on XBTUSDT, P10); 0 otherwise.

    Returns:
        The price, or None when the excess never reaches 0 at a positive price.

    Example:
        >>> legs = [Leg("long", 1, 100_000, 98_000, "0.0125"), Leg("short", 30, 3_500, 3_600, "0.02"),
        ...         Leg("long", 500, 200, 190, "0.025")]
        >>> round(float(leg_liquidation_price(legs, 1, wallet=30_000)), 6)
        4065.359477
    """
    if not 0 <= j < len(legs):
        raise InvalidInputError("j", j, f"a leg index in [0, {len(legs)})")
    s, q, _, mp = _leg(legs, j)
    c = non_negative("co_moving", co_moving)
    base = cross_excess(legs, wallet, collateral)
    rows = mm_tiers(legs[j].tiers)
    x_without_j = base.excess + leg_maintenance(legs[j])

    def price_in(k: int) -> Fraction | None:
        _, r, cum = rows[k]
        slope = s * q + c - q * r
        if slope == 0:
            return None
        p = mp - (x_without_j - (q * mp * r - cum)) / slope
        return p if p > 0 else None

    k, seen = _bracket(rows, q * mp), set()
    while k not in seen:
        seen.add(k)
        p = price_in(k)
        if p is None:
            break
        if _bracket(rows, q * p) == k:
            return p
        k = _bracket(rows, q * p)
    consistent = [p for k in range(len(rows)) if (p := price_in(k)) and _bracket(rows, q * p) == k]
    return (max if s == 1 else min)(consistent) if consistent else None


def breaching_tick(price: Num, tick: Num, side: str, strict: bool = False) -> Fraction:
    """First tick at which a leg's mark breaches: ``P*`` rounded down (long) or up (short).

    With ``strict`` (dYdX, Hyperliquid), a price exactly on a tick does not breach: the next one
    out does.

    Example:
        >>> float(breaching_tick("1891.755051", "0.01", "long"))
        1891.75
        >>> float(breaching_tick("3390.6188", "0.01", "short"))
        3390.62
    """
    p, t, s = positive("price", price), positive("tick", tick), _sign(side)
    steps = p // t if s == 1 else -(-p // t)
    if strict and steps * t == p:
        steps -= s
    return steps * t


def collateral_critical_price(qty: Num, price: Num, ratio: Num, excess: Num) -> Fraction | None:
    """Price of a held collateral asset at which the excess reaches 0, all else fixed (§1.3):
    ``P*_c = P_c - X/(x_c*r_c)``; None if the holding has no collateral value.

    Example (P5: 14,000 USDe at 90%, excess at index 1.00 is 4,600 - 910):
        >>> round(float(collateral_critical_price(14_000, 1, "0.9", 3_690)), 6)
        0.707143
    """
    x, p, r = non_negative("qty", qty), non_negative("price", price), rate("ratio", ratio)
    if x * r == 0:
        return None
    out = p - exact("excess", excess) / (x * r)
    return out if out > 0 else None


def r4_bankruptcy_prices(legs: Sequence[Leg], wallet: Num, collateral: Num = 0) -> list[Fraction]:
    """R4: split the equity over the legs by maintenance share, ``BP_i = MP_i - side_i *
    E * (MM_i/MMtot) / Q_i``; closing every leg at its BP leaves the account at exactly 0.

    Example (P9 at marks 97,000 / 3,700):
        >>> [round(float(p), 2) for p in r4_bankruptcy_prices(
        ...     [Leg("long", 1, 100_000, 97_000, "0.005"), Leg("long", 20, 4_000, 3_700, "0.01")],
        ...     wallet=10_000)]
        [96604.08, 3669.8]
    """
    acct = cross_excess(legs, wallet, collateral)
    if acct.maintenance == 0:
        raise InvalidInputError("legs", len(legs), "legs with a maintenance margin > 0")
    out = []
    for i, leg in enumerate(legs):
        s, q, _, mp = _leg(legs, i)
        out.append(mp - s * acct.equity * leg_maintenance(leg) / acct.maintenance / q)
    return out


def single_leg_bankruptcy_price(
    legs: Sequence[Leg], j: int, wallet: Num, collateral: Num = 0
) -> Fraction | None:
    """R8 (BitMEX ADL): leg j's price at which the account's equity is 0, others at mark.

    Example (P9): ``MP - side*E/Q`` = 97,000 - 1,000 = 96,000.
        >>> single_leg_bankruptcy_price([Leg("long", 1, 100_000, 97_000, "0.005"),
        ...                              Leg("long", 20, 4_000, 3_700, "0.01")], 0, 10_000)
        Fraction(96000, 1)
    """
    if not 0 <= j < len(legs):
        raise InvalidInputError("j", j, f"a leg index in [0, {len(legs)})")
    s, q, _, mp = _leg(legs, j)
    p = mp - s * cross_excess(legs, wallet, collateral).equity / q
    return p if p > 0 else None


def binance_cross_leverage_pnl(legs: Sequence[Leg], j: int, wallet: Num) -> Fraction:
    """Binance ADL score of cross leg j (R8, P12): ``max(0, UPNL_j)/max(1, WB) * MMtot/E``.

    The account's margin ratio (0 when its equity is not positive) and the cross wallet, so a
    loss on another leg raises the rank of a profitable one.

    Example:
        >>> float(binance_cross_leverage_pnl([Leg("short", 3, 99_000, 97_000, BINANCE_BTC)], 0,
        ...                                  10_000))
        0.060375
    """
    if not 0 <= j < len(legs):
        raise InvalidInputError("j", j, f"a leg index in [0, {len(legs)})")
    acct = cross_excess(legs, wallet)
    ratio = acct.maintenance / acct.equity if acct.equity > 0 else Fraction(0)
    return max(Fraction(0), leg_upnl(legs[j])) / max(Fraction(1), exact("wallet", wallet)) * ratio


# ---------------------------------------------------------------------------------------------
# Hyperliquid (§3.3, R3)


def hyperliquid_classify(account_value: Num, maintenance: Num, backstop_ratio: Num = "2/3") -> str:
    """``"safe"`` (value >= MM), ``"book"`` (market orders) or ``"backstop"`` (value below
    backstop_ratio x MM: book orders first, then the vault takes what remains) (P7).

    Example:
        >>> [hyperliquid_classify(v, m) for v, m in ((11_500, 5_720), (5_500, 5_650), (3_000, 5_680))]
        ['safe', 'book', 'backstop']
    """
    av, mm = exact("account_value", account_value), non_negative("maintenance", maintenance)
    if av >= mm:
        return "safe"
    return "backstop" if av < rate("backstop_ratio", backstop_ratio) * mm else "book"


def hyperliquid_order_sizes(
    legs: Sequence[Leg],
    threshold: Num = 100_000,
    fraction: Num = "0.2",
    cooldown: Sequence[bool] = (),
) -> list[Fraction]:
    """R3: one market order per cross leg, in leg order; a leg whose notional at mark is above
    ``threshold`` sends ``fraction`` of its size unless it is in cooldown (P6, P7).

    Example:
        >>> hyperliquid_order_sizes([Leg("long", 1, 100_000, 94_000, "0.0125"),
        ...                          Leg("short", 30, 3_500, 3_750, "0.02")])
        [Fraction(1, 1), Fraction(6, 1)]
    """
    t, f = non_negative("threshold", threshold), rate("fraction", fraction)
    if cooldown and len(cooldown) != len(legs):
        raise InvalidInputError("cooldown", cooldown, f"one flag per leg ({len(legs)})")
    out = []
    for i in range(len(legs)):
        _, q, _, mp = _leg(legs, i)
        partial = q * mp > t and not (cooldown and cooldown[i])
        out.append(q * f if partial else q)
    return out


# ---------------------------------------------------------------------------------------------
# dYdX (§4.3): the subaccount's money is formulas.dydx (net_collateral, bankruptcy quote quantums)


def dydx_cross_excess(sub: dydx.Subaccount, perps: Mapping[int, dydx.Perpetual]) -> Excess:
    """dYdX's trigger as an `Excess` in USDC: TNC (USDC + oracle notionals), TMMR (the sum of the
    positions' rounded-up maintenance requirements) and TNC - TMMR; liquidatable when TMMR > 0
    and the excess is below 0 (R2, strict). Quote quantums come from :mod:`margincall.formulas.dydx`.

    Example (P8 at ETH 4,150):
        >>> btc = dydx.Perpetual(-10, 100_000, 20_000, 600_000)
        >>> eth = dydx.Perpetual(-9, 4_150, 20_000, 600_000)
        >>> dydx_cross_excess(dydx.Subaccount(12_000 * 10**6, {0: 2 * 10**10, 1: -50 * 10**9}),
        ...                   {0: btc, 1: eth})
        Excess(equity=Fraction(4500, 1), maintenance=Fraction(4890, 1), excess=Fraction(-390, 1))
    """
    tnc = Fraction(dydx.net_collateral(sub, perps), dydx.ONE_MILLION)
    tmmr = Fraction(dydx.total_maintenance_requirement(sub, perps), dydx.ONE_MILLION)
    return Excess(tnc, tmmr, tnc - tmmr)


def dydx_position_to_liquidate(
    perp_ids: Sequence[int], offset: int, liquidated: Sequence[int] = ()
) -> int | None:
    """The perpetual dYdX tries first (P8): walk the positions sorted by perpetual id from
    ``offset``, wrapping round, and take the first not yet liquidated this block.

    Example:
        >>> dydx_position_to_liquidate([1, 0], 0), dydx_position_to_liquidate([1, 0], 1, [1])
        (0, 0)
    """
    ids = sorted(perp_ids)
    if not ids:
        raise InvalidInputError("perp_ids", perp_ids, "at least one open position")
    if isinstance(offset, bool) or not isinstance(offset, int) or not 0 <= offset < len(ids):
        raise InvalidInputError("offset", offset, f"an integer in [0, {len(ids)})")
    for n in range(len(ids)):
        pid = ids[(offset + n) % len(ids)]
        if pid not in liquidated:
            return pid
    return None


class DydxOrder(NamedTuple):
    """A dYdX liquidation order: perpetual, signed closing delta (base quantums) and the
    bankruptcy quote quantums of that delta (what the subaccount gets, > 0, or pays, < 0)."""

    perp_id: int
    delta: int
    bankruptcy_quote_quantums: int


def dydx_liquidation_order(
    sub: dydx.Subaccount,
    perps: Mapping[int, dydx.Perpetual],
    offset: int,
    limits: tuple[int, int, int],
    step: int = 1,
) -> DydxOrder:
    """The order dYdX sends for a liquidatable subaccount (§4.3, P8): the position from
    `dydx_position_to_liquidate` (nothing liquidated yet this block), sized to ``min(max(min notional, portion x |notional|), block
    budget)`` in quote quantums, turned into base quantums rounded down to ``step`` (the whole
    position if it fits), at least one step, with its bankruptcy quote quantums from
    :func:`margincall.formulas.dydx.bankruptcy_quote_quantums`.

    Args:
        sub, perps: the subaccount and the perpetuals it holds (:mod:`margincall.formulas.dydx`).
        offset: the rotation's start among the positions sorted by perpetual id.
        limits: ``(min_notional, portion_ppm, block_budget)``, quote quantums and ppm.
        step: the market's step size in base quantums.

    Example:
        >>> btc = dydx.Perpetual(-10, 100_000, 20_000, 600_000)
        >>> eth = dydx.Perpetual(-9, 4_150, 20_000, 600_000)
        >>> sub = dydx.Subaccount(12_000 * 10**6, {0: 2 * 10**10, 1: -50 * 10**9})
        >>> dydx_liquidation_order(sub, {0: btc, 1: eth}, 1, (10**9, 100_000, 10**11))
        DydxOrder(perp_id=1, delta=5000000000, bankruptcy_quote_quantums=-20979141104)
    """
    ids = sorted(sub.positions)
    if isinstance(offset, bool) or not isinstance(offset, int) or not 0 <= offset < len(ids):
        raise InvalidInputError("offset", offset, f"an integer in [0, {len(ids)})")
    pid, position = ids[offset], sub.positions[ids[offset]]
    if pid not in perps:
        raise InvalidInputError("perps", sorted(perps), f"a perpetual for position {pid}")
    notional = abs(dydx.position_risk(perps[pid], position).nc)
    low, portion_ppm, budget = limits
    bounds = dydx.max_and_min_position_notional_liquidatable(notional, low, portion_ppm)
    allowed = min(bounds.max, budget)
    if isinstance(step, bool) or not isinstance(step, int) or step < 1:
        raise InvalidInputError("step", step, "an integer >= 1 (base quantums)")
    size = abs(position) if allowed >= notional else allowed * abs(position) // notional
    size = min(abs(position), max(step, size // step * step))
    delta = -size if position > 0 else size
    return DydxOrder(pid, delta, dydx.bankruptcy_quote_quantums(sub, perps, pid, delta))
