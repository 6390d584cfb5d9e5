"""News shocks per step (sim/news.py): a jump lands whole in the step that holds its time, a
spread shock compounds to its move over its window whatever the step, and nothing moves outside
the windows."""

from __future__ import annotations

import math

import pytest

from margincall.core.errors import InvalidInputError
from margincall.sim.news import News
from margincall.sim.scenario import Shock, parse_scenario


def _path(shocks, steps: int, dt: float) -> list[float]:
    news = News(shocks)
    return [news.jump(k * dt, dt) for k in range(1, steps + 1)]


def test_a_jump_lands_in_the_step_that_holds_its_time():
    jumps = _path([Shock(hour=0.01, move=-0.02)], 10, 5.0)  # 36 s: the step (35, 40]
    assert jumps[7] == pytest.approx(-0.02, abs=1e-15)
    assert jumps[:7] == [0.0] * 7 and jumps[8:] == [0.0] * 2


def test_two_jumps_in_one_step_compound():
    jumps = _path([Shock(hour=0.0, move=-0.02), Shock(hour=0.0, move=0.01)], 2, 5.0)
    assert jumps[0] == pytest.approx(0.98 * 1.01 - 1, abs=1e-15)
    assert jumps[1] == 0.0


@pytest.mark.parametrize("dt", [5.0, 7.0, 60.0, 3600.0])
def test_a_spread_shock_compounds_to_its_move_over_its_window(dt):
    """-2% over 45 minutes from 00:10, steps of any length (7 s does not divide the window)."""
    shock = Shock(hour=10 / 60, move=-0.02, minutes=45)
    jumps = _path([shock], int(2 * 3600 / dt) + 1, dt)
    total = math.prod(1 + j for j in jumps) - 1
    assert total == pytest.approx(-0.02, rel=1e-12)
    moved = [k for k, j in enumerate(jumps, start=1) if j != 0.0]
    assert (moved[0] - 1) * dt < 10 * 60 + dt and moved[-1] * dt > 55 * 60 - 1e-9
    assert all(k * dt > 600 and (k - 1) * dt < 55 * 60 for k in moved)


def test_a_spread_shock_moves_evenly():
    jumps = _path([Shock(hour=0.0, move=-0.06, minutes=1)], 12, 5.0)
    assert len(set(round(j, 15) for j in jumps)) == 1
    assert jumps[0] == pytest.approx(0.94 ** (1 / 12) - 1, rel=1e-12)


def test_a_jump_inside_a_spread_window_compounds_with_it():
    jumps = _path([Shock(hour=0.0, move=-0.06, minutes=1), Shock(hour=0.005, move=-0.01)], 12, 5.0)
    assert math.prod(1 + j for j in jumps) == pytest.approx(0.94 * 0.99, rel=1e-12)


def test_negative_minutes_is_refused_naming_the_field():
    data = {"flow": {"shocks": [{"hour": 15, "move": -0.015, "minutes": -5}]}}
    with pytest.raises(InvalidInputError) as exc:
        parse_scenario(data, "s.toml")
    assert "minutes" in str(exc.value.field)
