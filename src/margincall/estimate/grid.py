"""Stress grids: the cascade fixed point for every shock x depth multiplier x leverage multiplier.

One compiled loop runs :func:`margincall.estimate.cascade.solve` (the same kernel as the scalar
:func:`~margincall.estimate.cascade.cascade`) over the flattened grid; no Python runs per
scenario. Down shocks read the long side of the map with sell-side impact, up shocks the short
side with buy-side impact.

Multipliers, as in :mod:`margincall.estimate.cascade`: a depth multiplier ``m`` scales all
depth (``D1`` of a depth curve, a real book's notional, ``V_D`` of the square-root law); a
leverage multiplier ``L`` brings every liquidation level ``L`` times closer to ``P0`` (distance
divided by ``L``), notional unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numba import njit

from margincall.core.errors import InvalidInputError
from margincall.estimate.cascade import check_multiplier, check_shock, side_arrays, solve
from margincall.estimate.impact import Impact
from margincall.estimate.maps import MICROS, LiquidationMap


@njit(cache=True)
def _grid(p0, shocks, depths, levs, liq, cum, qty, kind, params, tq, td, max_rounds, down):
    ns, nd, nl = shocks.shape[0], depths.shape[0], levs.shape[0]
    price = np.empty((ns, nd, nl), np.float64)
    micros = np.zeros((ns, nd, nl), np.int64)
    rounds = np.zeros((ns, nd, nl), np.int64)
    ok = np.zeros((ns, nd, nl), np.bool_)
    for i in range(ns):
        if (shocks[i] <= 0.0) != down:
            continue
        for j in range(nd):
            for k in range(nl):
                p, q, r, c = solve(
                    p0,
                    shocks[i],
                    levs[k],
                    depths[j],
                    liq,
                    cum,
                    qty,
                    kind,
                    params,
                    tq,
                    td,
                    max_rounds,
                )
                price[i, j, k] = p
                micros[i, j, k] = q
                rounds[i, j, k] = r
                ok[i, j, k] = c
    return price, micros, rounds, ok


@dataclass(frozen=True)
class GridResult:
    """Arrays of shape (shocks, depth multipliers, leverage multipliers)."""

    shocks: np.ndarray
    depth_scales: np.ndarray
    leverages: np.ndarray
    reference: float
    price: np.ndarray
    long_micros: np.ndarray
    short_micros: np.ndarray
    rounds: np.ndarray
    converged: np.ndarray

    @property
    def move(self) -> np.ndarray:
        return self.price / self.reference - 1.0

    def rows(self) -> list[dict[str, Any]]:
        """One JSON-ready row per scenario."""
        out = []
        for i, s in enumerate(self.shocks):
            for j, d in enumerate(self.depth_scales):
                for k, lev in enumerate(self.leverages):
                    out.append(
                        {
                            "shock": float(s),
                            "depth_scale": float(d),
                            "leverage_scale": float(lev),
                            "price": float(self.price[i, j, k]),
                            "final_move": float(self.move[i, j, k]),
                            "long_liquidated_usd": int(self.long_micros[i, j, k]) / MICROS,
                            "short_liquidated_usd": int(self.short_micros[i, j, k]) / MICROS,
                            "rounds": int(self.rounds[i, j, k]),
                            "converged": bool(self.converged[i, j, k]),
                        }
                    )
        return out


def _vector(name: str, values, check) -> np.ndarray:
    a = np.atleast_1d(np.asarray(values, np.float64))
    if a.ndim != 1 or len(a) == 0:
        raise InvalidInputError(name, values, "a non-empty list of numbers")
    for x in a:
        check(name, x)
    return np.ascontiguousarray(a)


def stress_grid(
    lmap: LiquidationMap,
    impact: Impact,
    shocks,
    depth_scales=(1.0,),
    leverages=(1.0,),
    *,
    max_rounds: int = 10_000,
) -> GridResult:
    """The fixed point of every (shock, depth multiplier, leverage multiplier)."""
    s = _vector("shocks", shocks, lambda n, x: check_shock(x, n))
    d = _vector("depth_scales", depth_scales, check_multiplier)
    lv = _vector("leverages", leverages, check_multiplier)
    shape = (len(s), len(d), len(lv))
    price = np.empty(shape)
    micros = {}
    rounds = np.zeros(shape, np.int64)
    ok = np.zeros(shape, bool)
    for down in (True, False):
        sel = (s <= 0) == down
        liq, cum, qty = side_arrays(lmap, down)
        e = impact.encode(-1 if down else 1)
        p, q, r, c = _grid(
            lmap.price,
            s,
            d,
            lv,
            liq,
            cum,
            qty,
            e.kind,
            e.params,
            e.tab_q,
            e.tab_d,
            max_rounds,
            down,
        )
        price[sel], rounds[sel], ok[sel] = p[sel], r[sel], c[sel]
        micros[down] = np.where(sel[:, None, None], q, 0)
    return GridResult(s, d, lv, lmap.price, price, micros[True], micros[False], rounds, ok)
