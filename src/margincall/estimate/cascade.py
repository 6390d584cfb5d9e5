"""The cascade fixed point: where a price shock stops once forced orders have moved the price.

Model (cascade-models.md §0, our synthesis of Cont-Wagalath and Caccioli-Bouchaud-Farmer).
For a down shock ``s < 0`` on reference price ``P0``, let ``Q(P)`` be the long notional whose
liquidation price lies in ``[P, P0]`` (from the :class:`~margincall.estimate.maps.LiquidationMap`,
exact micro-dollars valued at each level's liquidation price) and ``delta(Q)`` the fractional
impact of selling ``Q`` (:mod:`margincall.estimate.impact`). Starting at ``P_1 = P0 (1 + s)``,

    P_{n+1} = P0 * (1 + s - delta(Q(P_n)))

The sequence falls monotonically (``Q`` grows as ``P`` falls, ``delta`` grows with ``Q``) and
stops at the first fixed point below the shock: the post-cascade price. Up shocks are the mirror
image: short notional in ``[P0, P]``, buy-side impact, ``P_{n+1} = P0 (1 + s + delta(Q(P_n)))``.
Forced orders sell (buy) base quantity, so the ``Q`` that enters ``delta`` is the liquidated
quantity valued at the touch ``P0 (1 + s)``, the price the book is quoted around (each level's
notional / its liquidation price x the touch); the liquidated notional reported is the map's
exact notional at the liquidation prices.
Prices are bounded to ``(0, 11 P0]``. A move liquidates one side only; levels already past ``P0`` (breached before the shock) are not
counted. ``rounds`` is how many times ``Q`` grew: round 1 is what the shock itself liquidates,
round 2 what round 1's impact reaches, and so on; the iteration ends when a round finds nothing
new (exactly, on the map's discrete levels) or after ``max_rounds`` (``converged`` False).

A **leverage multiplier** ``L`` rescales every level's distance from ``P0`` by ``1/L`` (twice
the leverage, liquidation prices twice as close): a level at ``x`` moves to ``P0 + (x - P0)/L``
with its notional unchanged. It is applied to the query price, so no map is rebuilt.

The **loop gain** ``G(P) = P0 |d delta/dQ| |dQ/dP|`` is the factor by which one more dollar of
price move is amplified in one round (``P0`` because impact is a fraction of ``P0``); a jump to a
distant fixed point happens where ``G`` reaches 1. The **critical shock** is defined on a grid of
shocks ``step, 2 step, ...`` up to ``max_shock``: the smallest shock at which the post-cascade
move grows by more than ``jump`` (fraction of ``P0``) beyond the shock's own growth, from one
grid shock to the next, i.e. where the fixed point jumps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numba import njit

from margincall.core.errors import InvalidInputError
from margincall.estimate.impact import REFILL, Impact, impact_delta
from margincall.estimate.maps import MICROS, LiquidationMap

MIN_SHOCK, MAX_SHOCK = -0.99, 10.0
"""Shocks are refused outside (-99%, +1000%)."""


def check_shock(shock: float, field: str = "shock") -> float:
    s = float(shock)
    if not (np.isfinite(s) and MIN_SHOCK < s < MAX_SHOCK):
        raise InvalidInputError(field, shock, "a move strictly between -99% and +1000%")
    return s


@njit(cache=True, inline="always")
def _count_ge_desc(a, x):
    """Number of entries of descending ``a`` that are >= x."""
    return a.shape[0] - np.searchsorted(a[::-1], x, side="left")


@njit(cache=True, inline="always")
def _count_gt_desc(a, x):
    """Number of entries of descending ``a`` that are > x."""
    return a.shape[0] - np.searchsorted(a[::-1], x, side="right")


@njit(cache=True, inline="always")
def _count_le_asc(a, x):
    """Number of entries of ascending ``a`` that are <= x."""
    return np.searchsorted(a, x, side="right")


@njit(cache=True, inline="always")
def _count_lt_asc(a, x):
    """Number of entries of ascending ``a`` that are < x."""
    return np.searchsorted(a, x, side="left")


@njit(cache=True)
def solve(p0, s, lev, m, liq, cum, qty, kind, params, tab_q, tab_d, max_rounds):
    """One fixed point. ``liq``/``cum``/``qty``: the side's levels (descending for longs when
    s <= 0, ascending for shorts when s > 0), their cumulative micro-dollars and cumulative base
    quantity (both length n + 1). Returns ``(price, micros, rounds, converged)``.

    With ``params[REFILL] = r > 0`` (book walks) each round walks a book refilled by ``r`` of
    what earlier rounds consumed (see :mod:`margincall.estimate.impact`); ``r = 0`` is the
    single walk ``delta(Q)``."""
    down = s <= 0.0
    first = _count_gt_desc(liq, p0) if down else _count_lt_asc(liq, p0)
    base = cum[first]
    qty_base = qty[first]
    touch = p0 * (1.0 + s)
    price = p0 * (1.0 + s)
    refill = params[REFILL]
    consumed = 0.0  # depth consumed and not yet refilled, USD at the touch (refill > 0)
    sold = 0.0  # base quantity liquidated so far
    moved = 0.0  # the cascade's own move so far, fraction of p0 (refill > 0)
    q = np.int64(0)
    rounds = 0
    converged = False
    floor = p0 * 1e-12  # prices stay in (0, 11 P0]: no negative price, no move past +1000%
    ceiling = p0 * (1.0 + MAX_SHOCK)
    for _ in range(max_rounds + 1):
        x = p0 + lev * (price - p0)  # the query price on the unscaled map
        i = _count_ge_desc(liq, x) if down else _count_le_asc(liq, x)
        q_new = cum[i] - base
        if q_new <= q:
            converged = True
            break
        if rounds == max_rounds:
            break
        q = q_new
        rounds += 1
        # the book absorbs quantity: what was liquidated, valued at the touch
        if refill == 0.0:
            d = impact_delta(kind, params, tab_q, tab_d, (qty[i] - qty_base) * touch, m)
        else:
            left = (1.0 - refill) * consumed
            consumed = left + (qty[i] - qty_base - sold) * touch
            sold = qty[i] - qty_base
            moved += impact_delta(kind, params, tab_q, tab_d, consumed, m) - impact_delta(
                kind, params, tab_q, tab_d, left, m
            )
            d = moved
        price = p0 * (1.0 + s - d) if down else p0 * (1.0 + s + d)
        price = min(max(price, floor), ceiling)
    return price, q, rounds, converged


@dataclass(frozen=True)
class CascadeResult:
    """The post-cascade state of one shock."""

    shock: float
    price: float  # post-cascade price, USD
    move: float  # price / P0 - 1
    long_micros: int
    short_micros: int
    rounds: int
    converged: bool

    @property
    def long_usd(self) -> float:
        return self.long_micros / MICROS

    @property
    def short_usd(self) -> float:
        return self.short_micros / MICROS

    def as_dict(self) -> dict[str, Any]:
        return {
            "shock": self.shock,
            "price": self.price,
            "final_move": self.move,
            "long_liquidated_usd": self.long_usd,
            "short_liquidated_usd": self.short_usd,
            "long_liquidated_micros": self.long_micros,
            "short_liquidated_micros": self.short_micros,
            "rounds": self.rounds,
            "converged": self.converged,
        }


def side_arrays(lmap: LiquidationMap, down: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The levels, cumulative micro-dollars and cumulative base quantity (notional / price) of
    the side a move liquidates."""
    liq, micros = (lmap.long_liq, lmap.long_micros) if down else (lmap.short_liq, lmap.short_micros)
    cum = lmap._long_cum if down else lmap._short_cum  # type: ignore[attr-defined]
    name = "_long_qty_cum" if down else "_short_qty_cum"
    qty = getattr(lmap, name, None)
    if qty is None:
        safe = np.where(liq > 0, liq, 1.0)
        each = np.where(liq > 0, micros / MICROS / safe, 0.0)
        qty = np.concatenate(([0.0], np.cumsum(each)))
        object.__setattr__(lmap, name, qty)
    return liq, cum, qty


def check_multiplier(name: str, value: float) -> float:
    v = float(value)
    if not (np.isfinite(v) and v > 0):
        raise InvalidInputError(name, value, "a positive multiplier")
    return v


def cascade(
    lmap: LiquidationMap,
    impact: Impact,
    shock: float,
    *,
    depth_scale: float = 1.0,
    leverage: float = 1.0,
    max_rounds: int = 10_000,
) -> CascadeResult:
    """The post-cascade price and liquidated notional of ``shock`` (a signed fraction, -0.1 is a
    10% drop) on ``lmap`` under ``impact`` (see the module docstring)."""
    s = check_shock(shock)
    m = check_multiplier("depth_scale", depth_scale)
    lev = check_multiplier("leverage", leverage)
    down = s <= 0
    liq, cum, qty = side_arrays(lmap, down)
    e = impact.encode(-1 if down else 1)
    price, q, rounds, ok = solve(
        lmap.price, s, lev, m, liq, cum, qty, e.kind, e.params, e.tab_q, e.tab_d, int(max_rounds)
    )
    return CascadeResult(
        s,
        float(price),
        float(price / lmap.price - 1),
        int(q) if down else 0,
        0 if down else int(q),
        int(rounds),
        bool(ok),
    )


def _qty_through(liq: np.ndarray, qty: np.ndarray, x, down: bool) -> np.ndarray:
    """Cumulative base quantity of the side's levels through price ``x``, counted as
    :func:`solve` counts them (the same helpers, run as Python on arrays of prices)."""
    count = _count_ge_desc.py_func if down else _count_le_asc.py_func
    return qty[count(liq, x)]


def loop_gain(
    lmap: LiquidationMap,
    impact: Impact,
    prices: np.ndarray,
    *,
    depth_scale: float = 1.0,
    bandwidth: float = 0.005,
) -> np.ndarray:
    """``G(P) = P0 |d delta/dQ| |dQ/dP|`` at each price (below ``P0``: longs and sell impact;
    above: shorts and buy impact), with ``Q`` valued as :func:`solve` values it: the base
    quantity liquidated between ``P`` and ``P0`` times the touch, here ``P`` itself (the first
    round of a shock that lands at ``P``). ``dQ/dP`` is a central difference over
    ``± bandwidth P0`` (the map is a step function; this is its density smoothed over that
    window); ``d delta/dQ`` a central difference over ``± 1%`` of ``Q`` (at least $1,000)."""
    p0 = lmap.price
    prices = np.asarray(prices, np.float64)
    h = bandwidth * p0
    out = np.zeros(prices.shape)
    for down in (True, False):
        sel = prices <= p0 if down else prices > p0
        if not sel.any():
            continue
        p = prices[sel]
        liq, _, qty = side_arrays(lmap, down)
        sign = 1.0 if down else -1.0  # the side's levels lie below (longs) or above P0
        start = _qty_through(liq, qty, np.nextafter(p0, sign * np.inf), down)
        q = (_qty_through(liq, qty, p, down) - start) * p
        dq = (
            _qty_through(liq, qty, p - sign * h, down) - _qty_through(liq, qty, p + sign * h, down)
        ) * p
        eps = np.maximum(0.01 * q, 1000.0)
        side = -1 if down else 1
        lo = impact.delta(np.maximum(q - eps, 0.0), side, depth_scale)
        hi = impact.delta(q + eps, side, depth_scale)
        ddelta = (hi - lo) / (q + eps - np.maximum(q - eps, 0.0))
        out[sel] = p0 * np.abs(ddelta) * np.abs(dq) / (2 * h)
    return out


@dataclass(frozen=True)
class CriticalShock:
    """Where the fixed point jumps: ``shock`` and the final moves just before and at it."""

    shock: float
    move_before: float
    move_at: float

    def as_dict(self) -> dict[str, float]:
        return {"shock": self.shock, "move_before": self.move_before, "move_at": self.move_at}


def critical_shock(
    lmap: LiquidationMap,
    impact: Impact,
    *,
    direction: int = -1,
    max_shock: float = 0.5,
    step: float = 0.001,
    jump: float = 0.02,
    depth_scale: float = 1.0,
    leverage: float = 1.0,
) -> CriticalShock | None:
    """The smallest shock (on the grid ``step, 2 step, ..., max_shock``, signed by ``direction``)
    at which the final move grows by more than ``jump`` + ``step`` from the previous grid shock:
    a jump to a distant fixed point. None when the fixed point moves smoothly all the way."""
    from margincall.estimate.grid import stress_grid

    if direction not in (-1, 1):
        raise InvalidInputError("direction", direction, "-1 (down) or +1 (up)")
    top = min(max_shock, 0.98) if direction < 0 else max_shock
    shocks = direction * np.arange(1, round(top / step) + 1) * step
    g = stress_grid(lmap, impact, shocks, [depth_scale], [leverage])
    moves = np.abs(g.move[:, 0, 0])
    grow = np.diff(np.concatenate(([0.0], moves)))
    hit = np.flatnonzero(grow > jump + step)
    if len(hit) == 0:
        return None
    i = int(hit[0])
    return CriticalShock(float(shocks[i]), float(moves[i - 1]) if i else 0.0, float(moves[i]))
