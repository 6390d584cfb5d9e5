"""The cascade estimator at exchange scale: an exact map of 10,000,000 positions, then a stress
grid of 10,000 scenarios on it.

Positions: BTCUSDT under the Binance rulebook's ten margin tiers, 60% long, sizes lognormal
around 0.05 BTC, entries lognormal around 60,000 (2% spread), leverage 2x to 125x (capped by the
tier), isolated collateral = entry notional / leverage. The map is built with the venue's
integer margin check (each position's exact first breaching tick) and aggregated by tick. The
grid is 100 shocks (-1% to -50% and +1% to +50%) x 20 depth multipliers (0.1 to 10) x 5
leverage multipliers (0.5 to 2), on a depth-curve walk (D1 = $1B, deep enough that cascades take several rounds, beta = 0.55, thinning 0.3).
"""

from __future__ import annotations

import time

import numpy as np

from margincall.estimate.grid import stress_grid
from margincall.estimate.impact import DepthCurve
from margincall.estimate.positions import Rules, map_from_arrays

GROUP = "estimate"
N_POSITIONS = 10_000_000


def positions(n: int, rules: Rules, seed: int = 11):
    rng = np.random.default_rng(seed)
    side = np.where(rng.random(n) < 0.6, 1, -1)
    lots = np.maximum(np.rint(rng.lognormal(np.log(50), 1.2, n)), 1).astype(np.int64)
    entry = np.rint(rng.lognormal(np.log(600_000), 0.02, n)).astype(np.int64)  # ticks of 0.1
    value = lots * entry * rules.k
    lev = rng.uniform(2, 125, n)
    coll = np.ceil(value / lev).astype(np.int64)
    return coll, side * lots, side * value


def build(n: int, rules: Rules):
    coll, pos, cost = positions(n, rules)
    t0 = time.perf_counter()
    m = map_from_arrays(coll, pos, cost, rules, 60_000.0, source="bench")
    return m, time.perf_counter() - t0


def grid(m):
    shocks = np.concatenate([-np.linspace(0.01, 0.5, 50), np.linspace(0.01, 0.5, 50)])
    depths = np.geomspace(0.1, 10, 20)
    levs = np.linspace(0.5, 2.0, 5)
    t0 = time.perf_counter()
    g = stress_grid(m, DepthCurve(1e9, 0.55, 0.3), shocks, depths, levs)
    return g, time.perf_counter() - t0


def run() -> list[dict]:
    rules = Rules.of_rulebook("binance", "BTCUSDT")
    small, _ = build(10_000, rules)  # compile first
    grid(small)
    m, build_s = build(N_POSITIONS, rules)
    g, grid_s = grid(m)
    n = g.price.size
    return [
        {"name": "estimate_map_positions", "value": N_POSITIONS, "unit": "positions"},
        {"name": "estimate_map_build_seconds", "value": round(build_s, 3), "unit": "s"},
        {
            "name": "estimate_map_levels",
            "value": len(m.long_liq) + len(m.short_liq),
            "unit": "ticks",
        },
        {"name": "estimate_grid_scenarios", "value": n, "unit": "scenarios"},
        {"name": "estimate_grid_seconds", "value": round(grid_s, 3), "unit": "s"},
        {
            "name": "estimate_grid_rounds_mean",
            "value": round(float(g.rounds.mean()), 1),
            "unit": "rounds",
        },
        {"name": "estimate_grid_rounds_max", "value": int(g.rounds.max()), "unit": "rounds"},
        {"name": "estimate_grid_converged", "value": bool(g.converged.all()), "unit": "bool"},
    ]


if __name__ == "__main__":
    import json
    import sys

    if len(sys.argv) > 1:
        N_POSITIONS = int(sys.argv[1])
    for row in run():
        print(json.dumps(row))
