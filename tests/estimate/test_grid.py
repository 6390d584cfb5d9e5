"""Stress grids equal the scalar fixed point element by element."""

from __future__ import annotations

import numpy as np
import pytest

from margincall.estimate.cascade import cascade
from margincall.estimate.grid import stress_grid
from margincall.estimate.impact import BookDepth, DepthCurve, SqrtImpact
from margincall.inputs.maps import map_from_scenario
from margincall.sim.scenario import load_scenario


@pytest.fixture(scope="module")
def lmap():
    return map_from_scenario(load_scenario("calm").with_overrides(accounts=3000), 5)[0]


def _book():
    q = np.cumsum(np.full(200, 5e6))
    d = np.arange(200) * 0.0005
    return BookDepth(q, d, q * 0.8, d, reference=92_000, thinning=0.2)


@pytest.mark.parametrize(
    "impact", [DepthCurve(d1_usd=300e6), SqrtImpact(volume_daily_usd=2e9), _book()]
)
def test_grid_equals_scalar_fixed_point(lmap, impact):
    shocks = [-0.2, -0.1, -0.05, -0.02, 0.0, 0.01, 0.04, 0.09]
    depths = [0.3, 1.0, 3.0]
    levs = [0.5, 1.0, 2.5]
    g = stress_grid(lmap, impact, shocks, depths, levs)
    assert g.price.shape == (8, 3, 3)
    for i, s in enumerate(shocks):
        for j, d in enumerate(depths):
            for k, lev in enumerate(levs):
                r = cascade(lmap, impact, s, depth_scale=d, leverage=lev)
                assert g.price[i, j, k] == r.price
                assert g.long_micros[i, j, k] == r.long_micros
                assert g.short_micros[i, j, k] == r.short_micros
                assert g.rounds[i, j, k] == r.rounds
                assert g.converged[i, j, k] == r.converged
    rows = g.rows()
    assert len(rows) == 72 and rows[0]["shock"] == -0.2
    assert rows[0]["long_liquidated_usd"] == g.long_micros[0, 0, 0] / 1e6
    assert g.long_micros.sum() > 0 and g.short_micros.sum() > 0
