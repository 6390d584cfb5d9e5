"""Public margin math of the venues, floats in and floats out.

These are the closed-form formulas a user checks a venue's screen against: tiered maintenance
margin, liquidation and bankruptcy prices, and the ADL ranking scores. They take plain floats in
quote currency (USDT, USD) and base units, hold no state and never round unless asked
(`round_to_tick`). Where no price exists (the margin never runs out, or the formula's answer is not
positive) they return ``float("nan")``, which is what a venue shows as "--". Bad arguments raise
`InvalidInputError` naming the argument.

The engine works in integers: :mod:`margincall.venue.margin_int` holds the same rules on ticks,
lots and micro-dollars, and ``tests/formulas/test_margin.py`` holds it against these formulas.
This module is for estimates, checks and the property tests that tie the formulas together
(``margincall.venue.margin`` re-exports it for code written before the move).

Sides are the strings ``"long"`` and ``"short"``.

Example:
    >>> floors, rates = [0, 50_000, 250_000], [0.004, 0.005, 0.01]
    >>> maintenance_amounts(floors, rates)
    [0.0, 50.0, 1300.0]
    >>> round(maintenance_margin(500_000, floors, rates), 6)
    3700.0
"""

from __future__ import annotations

import math
import numbers
from bisect import bisect_right
from collections.abc import Sequence
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal
from typing import TypeVar

from margincall.core.errors import InvalidInputError

A = TypeVar("A")

_NAN = float("nan")
_ROUNDING = {"up": ROUND_CEILING, "down": ROUND_FLOOR, "nearest": ROUND_HALF_EVEN}


# ---------------------------------------------------------------------------------------------
# Argument checks. Every public function validates its inputs so that a wrong call fails loudly
# with the argument's name instead of returning a plausible but meaningless price.


def _finite(field: str, value: float) -> float:
    # numbers.Real admits numpy scalars and Fractions; bool is an int but never a price.
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidInputError(field, value, "a real number")
    if not math.isfinite(value):
        raise InvalidInputError(field, value, "a finite number")
    return float(value)


def _positive(field: str, value: float) -> float:
    v = _finite(field, value)
    if v <= 0:
        raise InvalidInputError(field, value, "a positive number")
    return v


def _non_negative(field: str, value: float) -> float:
    v = _finite(field, value)
    if v < 0:
        raise InvalidInputError(field, value, "a number >= 0")
    return v


def _sign(side: str) -> int:
    if side == "long":
        return 1
    if side == "short":
        return -1
    raise InvalidInputError("side", side, '"long" or "short"')


def _check_floors(floors: Sequence[float]) -> list[float]:
    if len(floors) == 0:
        raise InvalidInputError("floors", floors, "a non-empty sequence of notional floors")
    out = [_finite(f"floors[{i}]", f) for i, f in enumerate(floors)]
    if out[0] != 0:
        raise InvalidInputError("floors[0]", floors[0], "0 (the first bracket starts at 0)")
    for i in range(1, len(out)):
        if out[i] <= out[i - 1]:
            raise InvalidInputError(
                f"floors[{i}]", floors[i], f"a floor greater than floors[{i - 1}]={out[i - 1]!r}"
            )
    return out


def _check_tiers(
    floors: Sequence[float], rates: Sequence[float]
) -> tuple[list[float], list[float]]:
    fl = _check_floors(floors)
    if len(rates) != len(fl):
        raise InvalidInputError("rates", rates, f"one rate per floor ({len(fl)} rates)")
    rt = [_finite(f"rates[{i}]", r) for i, r in enumerate(rates)]
    for i, r in enumerate(rt):
        if not 0 < r <= 1:
            raise InvalidInputError(f"rates[{i}]", rates[i], "a rate in (0, 1]")
        if i > 0 and r < rt[i - 1]:
            raise InvalidInputError(
                f"rates[{i}]", rates[i], f"a rate >= rates[{i - 1}]={rt[i - 1]!r}"
            )
    return fl, rt


# ---------------------------------------------------------------------------------------------
# Tiered maintenance margin (Binance brackets, Hyperliquid margin tiers, BitMEX risk limits).


def maintenance_amounts(floors: Sequence[float], rates: Sequence[float]) -> list[float]:
    """The maintenance amount ("cum", "deduction") of every bracket.

    A bracket's maintenance margin is ``notional * rate - cum``. The cum values are chosen so that
    the margin is continuous where one bracket hands over to the next:
    ``cum_1 = 0`` and ``cum_n = cum_(n-1) + floor_n * (rate_n - rate_(n-1))``.

    Args:
        floors: the lowest notional of each bracket, starting at 0 and strictly increasing.
        rates: the maintenance margin rate of each bracket, in (0, 1] and non-decreasing.

    Returns:
        One cum per bracket, in quote currency.

    Raises:
        InvalidInputError: the tiers are malformed; the field names the index, e.g. ``rates[2]``.

    Example:
        >>> maintenance_amounts([0, 100_000, 500_000], [0.025, 0.05, 0.10])
        [0.0, 2500.0, 27500.0]
    """
    fl, rt = _check_tiers(floors, rates)
    cums = [0.0]
    for i in range(1, len(fl)):
        cums.append(cums[-1] + fl[i] * (rt[i] - rt[i - 1]))
    return cums


def tier_index(notional: float, floors: Sequence[float]) -> int:
    """The 0-based bracket that holds a notional: the last one whose floor is <= the notional.

    A notional exactly on a floor belongs to the upper bracket. Which side it goes to does not
    change the maintenance margin, because the cum recurrence makes it continuous there.

    Example:
        >>> tier_index(264_000, [0, 50_000, 250_000, 1_000_000])
        2
    """
    n = _non_negative("notional", notional)
    return bisect_right(_check_floors(floors), n) - 1


def maintenance_margin(notional: float, floors: Sequence[float], rates: Sequence[float]) -> float:
    """Maintenance margin of a position: ``notional * rate - cum`` of the notional's bracket.

    Args:
        notional: absolute position notional at the margin price (mark), >= 0.
        floors: bracket floors, as for `maintenance_amounts`.
        rates: bracket maintenance rates, as for `maintenance_amounts`.

    Example:
        >>> maintenance_margin(500_000, [0, 50_000, 250_000], [0.004, 0.005, 0.01])
        3700.0
    """
    cums = maintenance_amounts(floors, rates)
    i = tier_index(notional, floors)
    return float(notional) * float(rates[i]) - cums[i]


# ---------------------------------------------------------------------------------------------
# Binance USDⓈ-M, one-way mode.


def binance_liquidation_price(
    side: str,
    qty: float,
    entry_price: float,
    wallet_balance: float,
    mmr: float,
    cum: float,
    other_maintenance: float = 0.0,
    other_unrealized_pnl: float = 0.0,
) -> float:
    """Binance liquidation price of a one-way position, for one assumed bracket.

    Solves ``WB - TMM1 + UPNL1 + side*Q*(LP - EP) = Q*LP*MMR - cum`` for ``LP``: the price at
    which the margin balance falls to the maintenance margin. Isolated margin is the default
    (``other_*`` = 0); for cross margin pass the other positions' maintenance margin (TMM1) and
    unrealized PnL (UPNL1) at their current marks.

    The bracket is taken as given. Use `binance_liquidation_price_tiered` when the notional at the
    liquidation price may sit in another bracket.

    Args:
        side: ``"long"`` or ``"short"``.
        qty: absolute position size in base units, > 0.
        entry_price: average entry price, > 0.
        wallet_balance: wallet balance backing the position (isolated) or the account (cross).
        mmr: maintenance margin rate of the assumed bracket, in [0, 1].
        cum: maintenance amount of that bracket, >= 0.
        other_maintenance: TMM1, maintenance margin of the other cross positions.
        other_unrealized_pnl: UPNL1, unrealized PnL of the other cross positions.

    Returns:
        The price, or nan when there is none (result <= 0, or a long at a 100% rate).

    Example:
        >>> round(binance_liquidation_price("long", 109.488, 32_481.98, 1_535_443.01,
        ...                                 0.025, 16_300), 2)
        18778.73
    """
    s = _sign(side)
    q = _positive("qty", qty)
    ep = _positive("entry_price", entry_price)
    wb = _finite("wallet_balance", wallet_balance)
    m = _finite("mmr", mmr)
    if not 0 <= m <= 1:
        raise InvalidInputError("mmr", mmr, "a rate in [0, 1]")
    c = _non_negative("cum", cum)
    tmm = _non_negative("other_maintenance", other_maintenance)
    upnl = _finite("other_unrealized_pnl", other_unrealized_pnl)
    numerator = wb - tmm + upnl + c - s * q * ep
    denominator = q * m - s * q
    if denominator == 0:
        return _NAN
    lp = numerator / denominator
    return lp if math.isfinite(lp) and lp > 0 else _NAN


def binance_liquidation_price_tiered(
    side: str,
    qty: float,
    entry_price: float,
    wallet_balance: float,
    floors: Sequence[float],
    rates: Sequence[float],
    other_maintenance: float = 0.0,
    other_unrealized_pnl: float = 0.0,
) -> float:
    """Binance liquidation price with the FAQ's bracket re-check.

    Start from the bracket of the current notional ``qty * entry_price``, compute the liquidation
    price with that bracket's rate and cum, and if ``qty * LP`` falls in another bracket, recompute
    with that one, until the bracket used and the bracket of the answer agree.

    Because the maintenance margin is continuous and convex in the price, exactly one bracket is
    consistent. Each bracket's line lies on or below the real margin curve, so a long's answer is
    the highest of the per-bracket prices and a short's the lowest. That envelope is used if the
    walk revisits a bracket, which float noise can cause when the answer sits on a floor.

    Args:
        side, qty, entry_price, wallet_balance, other_maintenance, other_unrealized_pnl:
            as for `binance_liquidation_price`.
        floors, rates: the bracket table, as for `maintenance_amounts`.

    Returns:
        The price, or nan when there is none.

    Example:
        >>> floors = [0, 50_000, 250_000, 1_000_000, 10_000_000]
        >>> rates = [0.004, 0.005, 0.01, 0.025, 0.05]
        >>> round(binance_liquidation_price_tiered("long", 109.488, 32_481.98, 1_535_443.01,
        ...                                        floors, rates), 2)
        18778.73
    """
    s = _sign(side)
    q = _positive("qty", qty)
    ep = _positive("entry_price", entry_price)
    cums = maintenance_amounts(floors, rates)

    def price_for(i: int) -> float:
        return binance_liquidation_price(
            side, q, ep, wallet_balance, rates[i], cums[i], other_maintenance, other_unrealized_pnl
        )

    i = tier_index(q * ep, floors)
    seen: set[int] = set()
    while i not in seen:
        seen.add(i)
        lp = price_for(i)
        if math.isnan(lp):
            break
        j = tier_index(q * lp, floors)
        if j == i:
            return lp
        i = j
    # Fallback: the envelope of the per-bracket prices (see the docstring).
    prices = [price_for(i) for i in range(len(cums))]
    candidates = [p for p in prices if not math.isnan(p)]
    # A short's answer is the lowest line's: one bracket crossing at or below 0 means none.
    if not candidates or (s == -1 and len(candidates) < len(prices)):
        return _NAN
    return max(candidates) if s == 1 else min(candidates)


def bankruptcy_price(side: str, qty: float, entry_price: float, wallet_balance: float) -> float:
    """Price at which an isolated one-way position's margin balance reaches zero.

    ``EP - side * WB / Q``: the wallet balance is all the loss the position can absorb.

    Returns:
        The price, or nan when it would not be positive (a long with more margin than notional).

    Example:
        >>> bankruptcy_price("long", 1.0, 100.0, 1.0)
        99.0
    """
    s = _sign(side)
    q = _positive("qty", qty)
    ep = _positive("entry_price", entry_price)
    wb = _finite("wallet_balance", wallet_balance)
    bp = ep - s * wb / q
    return bp if bp > 0 else _NAN


def inverse_bankruptcy_price(side: str, entry_price: float, leverage: float) -> float:
    """Bankruptcy price of an inverse (coin-margined) contract at a given leverage.

    Margin is posted in the base coin, so a long loses ``1/L`` of its coin value when
    ``1/BP - 1/EP = 1/(L*EP)``: long ``EP*L/(L+1)``, short ``EP*L/(L-1)`` (Bybit's formulas).

    Returns:
        The price, or nan for a short at leverage <= 1 (it can never go bankrupt).

    Example:
        >>> round(inverse_bankruptcy_price("long", 7_890.08, 50), 6)
        7735.372549
    """
    s = _sign(side)
    ep = _positive("entry_price", entry_price)
    lev = _positive("leverage", leverage)
    if s == 1:
        return ep * lev / (lev + 1)
    return ep * lev / (lev - 1) if lev > 1 else _NAN


def round_to_tick(price: float, tick: float, direction: str) -> float:
    """Round a price onto the tick grid.

    The division is done in decimal on the numbers as written, so a price already on the grid
    (e.g. 0.3 with tick 0.1) stays put instead of moving a tick because of binary float error.

    Args:
        price: the price; nan passes through.
        tick: the tick size, > 0.
        direction: ``"up"`` (toward +inf), ``"down"`` (toward -inf) or ``"nearest"`` (half to even).

    Example:
        >>> round_to_tick(7_735.372549, 0.5, "up")
        7735.5
    """
    if direction not in _ROUNDING:
        raise InvalidInputError("direction", direction, '"up", "down" or "nearest"')
    t = _positive("tick", tick)
    if isinstance(price, float) and math.isnan(price):
        return _NAN
    p = _finite("price", price)
    dt = Decimal(repr(t))
    steps = (Decimal(repr(p)) / dt).to_integral_value(rounding=_ROUNDING[direction])
    return float(steps * dt)


# ---------------------------------------------------------------------------------------------
# Hyperliquid.


def hyperliquid_maintenance_rate(max_leverage: float) -> float:
    """Maintenance margin rate of a Hyperliquid tier: half the initial rate at max leverage.

    Example:
        >>> hyperliquid_maintenance_rate(40)
        0.0125
    """
    return 1.0 / (2.0 * _positive("max_leverage", max_leverage))


def hyperliquid_liquidation_price(
    side: str, entry_price: float, size: float, isolated_margin: float, max_leverage: float
) -> float:
    """Liquidation price of an isolated Hyperliquid position.

    With ``l = 1/(2*max_leverage)`` the maintenance rate, solves
    ``margin + side*size*(P - EP) = l*size*P``: long ``(EP*size - margin)/(size*(1 - l))``,
    short ``(EP*size + margin)/(size*(1 + l))``. The tier is the one of the liquidation price.

    Returns:
        The price, or nan when it would not be positive.

    Example:
        >>> round(hyperliquid_liquidation_price("long", 100.0, 10.0, 100.0, 10), 6)
        94.736842
    """
    s = _sign(side)
    ep = _positive("entry_price", entry_price)
    sz = _positive("size", size)
    margin = _non_negative("isolated_margin", isolated_margin)
    rate = hyperliquid_maintenance_rate(max_leverage)
    denominator = sz * (1 - s * rate)
    if denominator == 0:
        return _NAN
    lp = (ep * sz - s * margin) / denominator
    return lp if lp > 0 else _NAN


def hyperliquid_adl_index(
    mark_price: float, entry_price: float, notional: float, account_value: float
) -> float:
    """Hyperliquid ADL sorting index: ``(mark/entry) * (notional/account_value)``.

    Higher is deleveraged first. Only accounts with positive value are counterparties.

    Example:
        >>> hyperliquid_adl_index(110.0, 100.0, 1_000.0, 500.0)
        2.2
    """
    mp = _positive("mark_price", mark_price)
    ep = _positive("entry_price", entry_price)
    n = _non_negative("notional", notional)
    av = _positive("account_value", account_value)
    return (mp / ep) * (n / av)


# ---------------------------------------------------------------------------------------------
# BitMEX ADL.


def bitmex_effective_leverage(mark_value: float, bankrupt_value: float) -> float:
    """``|MarkValue| / (MarkValue - BankruptValue)``, with signed position values.

    Returns inf when the mark is at the bankruptcy value, nan for an empty position.

    Example:
        >>> bitmex_effective_leverage(60_000, 45_000)
        4.0
    """
    mv = _finite("mark_value", mark_value)
    bv = _finite("bankrupt_value", bankrupt_value)
    if mv == bv:
        return _NAN if mv == 0 else math.inf
    return abs(mv) / (mv - bv)


def bitmex_pnl_fraction(mark_value: float, entry_value: float) -> float:
    """``(MarkValue - AvgEntryValue) / |AvgEntryValue|``, the unrealized PnL as a fraction.

    Example:
        >>> bitmex_pnl_fraction(60_000, 50_000)
        0.2
    """
    mv = _finite("mark_value", mark_value)
    ev = _finite("entry_value", entry_value)
    if ev == 0:
        raise InvalidInputError("entry_value", entry_value, "a non-zero position value")
    return (mv - ev) / abs(ev)


def bitmex_adl_score(pnl_fraction: float, effective_leverage: float) -> float:
    """BitMEX ADL ranking: ``PnL% * lev`` when in profit, ``PnL% / lev`` otherwise.

    Dividing a loss by leverage keeps low-leverage losers at the back of the queue.

    Example:
        >>> bitmex_adl_score(0.2, 4.0), bitmex_adl_score(-0.1, 4.0)
        (0.8, -0.025)
    """
    pnl = _finite("pnl_fraction", pnl_fraction)
    lev = effective_leverage
    # inf is allowed: a position marked at its bankruptcy value has unbounded leverage.
    if isinstance(lev, bool) or not isinstance(lev, numbers.Real) or not lev > 0:
        raise InvalidInputError("effective_leverage", effective_leverage, "a positive number")
    return pnl * lev if pnl > 0 else pnl / lev


def bitmex_adl_allocate(
    queue: Sequence[tuple[A, float, float]], qty_to_close: float
) -> list[tuple[A, float]]:
    """Walk the BitMEX ADL queue: highest score first, whole positions, partial last.

    Args:
        queue: ``(account, qty, score)`` for each opposite-side position; ties keep input order.
        qty_to_close: size of the liquidated position to offset, > 0.

    Returns:
        ``(account, qty_taken)`` in queue order. If the queue holds less than ``qty_to_close``,
        every position is taken and the shortfall is left to the caller.

    Example:
        >>> bitmex_adl_allocate([("a", 10, 3), ("b", 10, 6), ("c", 20, 5)], 20)
        [('b', 10), ('c', 10)]
    """
    _positive("qty_to_close", qty_to_close)
    remaining = qty_to_close  # not float(): integer lots stay integers
    for i, (_, qty, score) in enumerate(queue):
        _non_negative(f"queue[{i}].qty", qty)
        _finite(f"queue[{i}].score", score)
    # sorted() is stable, so equal scores keep their input order.
    ordered = sorted(queue, key=lambda entry: -entry[2])
    taken: list[tuple[A, float]] = []
    for account, qty, _ in ordered:
        if remaining <= 0:
            break
        if qty <= 0:
            continue
        take = min(qty, remaining)
        taken.append((account, take))
        remaining -= take
    return taken


# ---------------------------------------------------------------------------------------------
# Binance ADL.


def binance_leverage_pnl(
    unrealized_pnl: float, wallet_balance: float, maintenance_margin: float
) -> float:
    """Binance ADL score ("LeveragePnL") as transcribed on the Binance developer forum.

    ``PnL% = max(0, uPnL) / max(1, WB)``; ``MarginRatio = MM / (WB + uPnL)``, or 0 when the
    margin balance is not positive; the score is their product.

    Example:
        >>> round(binance_leverage_pnl(40.2, 4.27, 0.1342 * (4.27 + 40.2)), 4)
        1.2634
    """
    upnl = _finite("unrealized_pnl", unrealized_pnl)
    wb = _finite("wallet_balance", wallet_balance)
    mm = _non_negative("maintenance_margin", maintenance_margin)
    pnl_pct = max(0.0, upnl) / max(1.0, wb)
    balance = wb + upnl
    margin_ratio = 0.0 if balance <= 0 else mm / balance
    return pnl_pct * margin_ratio


def binance_adl_quantiles(scores: Sequence[float], buckets: int = 5) -> list[int]:
    """The ADL indicator lights (1..buckets) of each score.

    A score's quantile is its rank over the number of users, ranking ties together at their
    highest rank; the light count is ``ceil(quantile * buckets)``. The top score gets all lights.

    Example:
        >>> binance_adl_quantiles([0.1, 0.5, 0.3, 0.9, 0.7])
        [1, 3, 2, 5, 4]
    """
    if isinstance(buckets, bool) or not isinstance(buckets, int) or buckets < 1:
        raise InvalidInputError("buckets", buckets, "an integer >= 1")
    values = [_finite(f"scores[{i}]", s) for i, s in enumerate(scores)]
    ranked = sorted(values)
    n = len(values)
    return [-(-bisect_right(ranked, v) * buckets // n) for v in values]
