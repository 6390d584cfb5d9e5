"""Every preset runs under every rulebook (issue 14): each agent group's leverage is fitted to the
venue's maximum where it was not chosen for that venue (a rulebook override), and a scenario
whose own value exceeds its own rulebook's maximum is refused with a message naming the group,
the field, the maximum and the fix."""

from __future__ import annotations

import pytest

from margincall.core.errors import InvalidInputError
from margincall.sim.kernel import Simulation
from margincall.sim.scenario import PRESETS, load_scenario, parse_scenario
from margincall.venue.instrument import RULEBOOKS

MAX_LEVERAGE = {"binance": 125, "bitmex": 100, "dydx": 50, "hyperliquid": 40}
HOURS = {"calm": 6.0, "flash-crash": 3.0, "feb-2026": 24.0}
"""Enough of each preset for its flows and shocks to move the price (feb-2026's legs are at 15,
20 and 23 h; flash-crash's shock at 1 h), at 500 accounts."""


def test_the_rulebooks_are_the_four_venues():
    assert sorted(RULEBOOKS) == sorted(MAX_LEVERAGE)


@pytest.mark.parametrize("rulebook", sorted(MAX_LEVERAGE))
@pytest.mark.parametrize("preset", PRESETS)
def test_preset_runs_under_rulebook(preset, rulebook):
    chosen = load_scenario(preset).momentum.leverage
    sc = load_scenario(preset).with_overrides(accounts=500, hours=HOURS[preset], rulebook=rulebook)
    assert sc.momentum.leverage == min(chosen, MAX_LEVERAGE[rulebook])
    sim = Simulation(sc, seed=1)
    sim.run()
    v = sim.venue
    assert v.rulebook.name == rulebook
    assert v.ledger_gap() == 0  # money conserved
    n = int(v.meta[7])
    assert int(v.acc.pos[:n].sum()) == 0  # long and short open interest balanced
    v.check_invariants()
    assert len(v.log) > sim.setup_events  # it traded


def test_feb_2026_momentum_traders_are_fitted_only_where_50x_is_too_much():
    assert load_scenario("feb-2026").momentum.leverage == 50
    for rulebook, expected in (("binance", 50), ("dydx", 50), ("hyperliquid", 40)):
        sc = load_scenario("feb-2026").with_overrides(rulebook=rulebook)
        assert sc.momentum.leverage == expected
        assert sc.with_overrides(accounts=500).momentum.leverage == expected
        assert parse_scenario(sc.model_dump()) == sc  # the scenario holds the fitted value


def test_a_scenarios_own_leverage_above_its_rulebooks_maximum_is_refused():
    data = load_scenario("feb-2026").model_dump()
    data["run"].update(rulebook="hyperliquid", accounts=500, hours=0.1)
    sc = parse_scenario(data, "my.toml")  # written for hyperliquid with 50x: the user's choice
    assert sc.momentum.leverage == 50
    assert sc.with_overrides(accounts=600).momentum.leverage == 50  # no rulebook change, no fit
    with pytest.raises(InvalidInputError) as e:
        Simulation(sc, seed=1)
    msg = str(e.value)
    for needle in ("momentum.leverage", "50", "at most 40", "hyperliquid", "[momentum]"):
        assert needle in msg, msg
    data["momentum"]["leverage"] = 40
    Simulation(parse_scenario(data, "my.toml"), seed=1)  # the fix the message names works
