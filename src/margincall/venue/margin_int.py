"""The margin rules on integers, compiled: the one home of the maintenance margin, margin check,
liquidation key and bankruptcy price the engine uses.

Same rules as :mod:`margincall.formulas.margin` (the readable float formulas; held against these
case by case in ``tests/formulas/test_margin.py``), on the engine's
units: positions in lots, prices in ticks, money in micro-dollars, rates in parts per million.
``k`` is the notional of one lot at one tick, in micro-dollars (``Scale.micros_per_tick_lot``).
Maintenance margin is rounded up (the venue never under-asks); products that could overflow
int64 are split before multiplying.
"""

from __future__ import annotations

import numpy as np
from numba import njit

PPM = 1_000_000
NEVER_SHORT = 4_000_000_000_000_000_000
"""Key of a short that no reachable price can liquidate."""


@njit(cache=True, inline="always")
def mul_div_ceil(a: int, b: int, d: int) -> int:
    """ceil(a*b/d) for a >= 0, 0 <= b <= 1e12, d > 0, without int64 overflow."""
    q = a // d
    r = a - q * d
    return q * b + (r * b + d - 1) // d


@njit(cache=True, inline="always")
def mul_div_floor(a: int, b: int, d: int) -> int:
    """floor(a*b/d) for a >= 0, 0 <= b <= 1e12, d > 0, without int64 overflow."""
    q = a // d
    r = a - q * d
    return q * b + (r * b) // d


@njit(cache=True, inline="always")
def tier_of(notional: int, floors: np.ndarray) -> int:
    """Index of the margin tier whose floor is the largest one <= notional."""
    t = 0
    for i in range(1, floors.shape[0]):
        if notional >= floors[i]:
            t = i
    return t


@njit(cache=True, inline="always")
def maintenance_micros(
    notional: int, floors: np.ndarray, mmr_ppm: np.ndarray, cum: np.ndarray
) -> int:
    """Maintenance margin of a position of this notional: notional*mmr - cum (rounded up)."""
    if notional <= 0:
        return 0
    t = tier_of(notional, floors)
    return mul_div_ceil(notional, mmr_ppm[t], PPM) - cum[t]


@njit(cache=True, inline="always")
def notional_micros(pos: int, price: int, k: int) -> int:
    """|pos| lots at ``price`` ticks, in micro-dollars."""
    return abs(pos) * price * k


@njit(cache=True, inline="always")
def unrealized_micros(pos: int, cost: int, price: int, k: int) -> int:
    """Open PnL at ``price``: signed value now minus signed entry cost."""
    return pos * price * k - cost


@njit(cache=True, inline="always")
def margin_excess(
    collateral: int,
    pos: int,
    cost: int,
    price: int,
    k: int,
    floors: np.ndarray,
    mmr_ppm: np.ndarray,
    cum: np.ndarray,
) -> int:
    """Margin balance minus maintenance at ``price`` (liquidatable when <= 0, or < 0 if strict)."""
    if pos == 0:
        return collateral
    bal = collateral + unrealized_micros(pos, cost, price, k)
    return bal - maintenance_micros(notional_micros(pos, price, k), floors, mmr_ppm, cum)


@njit(cache=True, inline="always")
def is_breached(excess: int, strict: bool) -> bool:
    """Binance and BitMEX liquidate at balance <= maintenance; dYdX and Hyperliquid at <."""
    return excess < 0 if strict else excess <= 0


@njit(cache=True, inline="always")
def liquidation_key(
    collateral: int,
    pos: int,
    cost: int,
    k: int,
    floors: np.ndarray,
    mmr_ppm: np.ndarray,
    cum: np.ndarray,
) -> int:
    """A conservative liquidation price in ticks, for the liquidation index.

    Long: no price above the key breaches; short: no price below the key breaches. The exact
    check happens when the mark reaches the key, so the key may be early but never late. The
    tier is the one whose notional range holds the notional at the solved price (the FAQ's
    re-check rule); when rounding leaves no consistent tier the most conservative one is used.
    Returns 0 for a long that can never be liquidated and a huge number for such a short.
    """
    if pos == 0:
        return -1
    q = abs(pos)
    n = floors.shape[0]
    best_any = 0.0
    best_ok = 0.0
    found = False
    for t in range(n):
        r = mmr_ppm[t] / PPM
        if pos > 0:
            m = (cost - collateral - cum[t]) / (q * k * (1.0 - r))
        else:
            m = (collateral - cost + cum[t]) / (q * k * (1.0 + r))
        notional = q * k * m
        hi = floors[t + 1] if t + 1 < n else 9.2e18
        ok = notional >= floors[t] and notional < hi
        better_any = t == 0 or (m > best_any if pos > 0 else m < best_any)
        if better_any:
            best_any = m
        if ok and (not found or (m > best_ok if pos > 0 else m < best_ok)):
            best_ok = m
            found = True
    best = best_ok if found else best_any
    if pos > 0:
        if best <= 0.0:
            return 0
        return int(np.floor(best)) + 2
    if best > 4.0e18:
        return NEVER_SHORT
    return max(int(np.ceil(best)) - 2, 1)


@njit(cache=True, inline="always")
def bankruptcy_price_ticks(collateral: int, pos: int, cost: int, k: int) -> int:
    """Price where the margin balance reaches zero, rounded against the closing order.

    A long is closed by a sell, which may not go below bankruptcy: round up. A short is closed
    by a buy, which may not go above: round down. 0 means no positive price exists.
    """
    q = abs(pos)
    if pos > 0:
        num = cost - collateral
        if num <= 0:
            return 0
        return -((-num) // (q * k))
    num = collateral - cost
    if num <= 0:
        return 0
    return num // (q * k)


@njit(cache=True, inline="always")
def initial_margin_micros(notional: int, imr_ppm: int) -> int:
    """Initial margin of a notional at an initial-margin rate (rounded up)."""
    return mul_div_ceil(notional, imr_ppm, PPM)
