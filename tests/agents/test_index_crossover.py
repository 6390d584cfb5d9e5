"""The index's concave transient impact (agents/index.py, ``impact_crossover_bps``): linear up to
the crossover, the square root of the linear transient beyond it, the permanent part linear
always, and at 0 the linear index exactly."""

from __future__ import annotations

import math

import pytest
from pydantic import ValidationError

from margincall.agents.index import IndexProcess
from margincall.core.rng import RngTree
from margincall.sim.scenario import IndexProcess as Params

# no fundamental noise worth the name, so the impact is the whole move
FLAT = Params(vol_annual=1e-12, garch_alpha=0.06, garch_beta=0.93, t_dof=4.0,
              impact_bps_per_musd=0.4, impact_permanent=0.3, impact_half_life_minutes=30.0)  # fmt: skip


def _after(params, flow_usd: float) -> IndexProcess:
    p = IndexProcess(params, 100.0, 5.0, RngTree(3).generator("factor"), 4)
    p.step(flow_usd)
    return p


def test_zero_crossover_is_the_linear_index():
    p = _after(FLAT, -500e6)
    assert p.crossover == 0.0
    assert p.transient_impact == p.transient == pytest.approx(0.7 * 0.4e-4 * -500)
    assert math.isclose(math.log(p.price), p.log_level, rel_tol=1e-12)


def test_below_the_crossover_the_law_is_linear():
    """$100M at 0.4 bps per $1M, 70% transient: 28 bps, under a 50 bps crossover."""
    p = _after(FLAT.model_copy(update={"impact_crossover_bps": 50.0}), -100e6)
    assert p.transient_impact == p.transient == pytest.approx(-28e-4)


def test_beyond_the_crossover_the_law_is_the_square_root_and_the_permanent_part_linear():
    """$1B: 280 bps linear transient, past a 50 bps crossover sqrt(50 x 280) = 118.3 bps; the
    permanent 120 bps as in the linear index."""
    linear = _after(FLAT, -1e9)
    concave = _after(FLAT.model_copy(update={"impact_crossover_bps": 50.0}), -1e9)
    assert concave.transient == linear.transient == pytest.approx(-280e-4)
    assert concave.transient_impact == pytest.approx(-math.sqrt(50e-4 * 280e-4))
    assert concave.permanent == linear.permanent == pytest.approx(-120e-4)
    buy = _after(FLAT.model_copy(update={"impact_crossover_bps": 50.0}), 1e9)
    assert buy.transient_impact == pytest.approx(-concave.transient_impact)


def test_four_times_the_flow_past_the_crossover_moves_the_transient_part_twice_as_far():
    params = FLAT.model_copy(update={"impact_crossover_bps": 20.0})
    one, four = _after(params, -1e9), _after(params, -4e9)
    assert four.transient_impact / one.transient_impact == pytest.approx(2.0)


def test_the_law_is_continuous_at_the_crossover():
    """A transient just under and just over the crossover give the same move to 1e-6 bps."""
    params = FLAT.model_copy(update={"impact_crossover_bps": 28.0})
    at = 28e-4 / (0.7 * 0.4e-4) * 1e6  # the flow whose linear transient is the crossover
    under, over = _after(params, -at * (1 - 1e-9)), _after(params, -at * (1 + 1e-9))
    assert abs(under.transient_impact - over.transient_impact) < 1e-10


def test_the_transient_part_still_decays_with_its_half_life():
    """The state decays linearly (the spot book refilling); the law maps it: after one half-life
    a 1,120 bps linear transient is 560, and the move sqrt(50 x 560) bps."""
    params = FLAT.model_copy(update={"impact_crossover_bps": 50.0})
    p = IndexProcess(params, 100.0, 5.0, RngTree(3).generator("factor"), 400)
    p.step(-4e9)
    for _ in range(360):  # 30 minutes of 5-second steps
        p.step(0.0)
    assert p.transient == pytest.approx(-560e-4, rel=1e-9)
    assert p.transient_impact == pytest.approx(-math.sqrt(50e-4 * 560e-4), rel=1e-9)


def test_a_negative_crossover_is_refused_with_its_value():
    with pytest.raises(ValidationError, match="impact_crossover_bps"):
        Params(**(FLAT.model_dump() | {"impact_crossover_bps": -1.0}))
