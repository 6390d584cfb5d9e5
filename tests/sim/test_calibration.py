"""The presets against their targets, at default settings, over several seeds.

``calm``: no cascade (liquidations under 0.5% of open interest) and 1-minute returns with the
stylized facts (cascade-models.md §4.1). ``feb-2026``: the 2026-02-05 crash from its inputs
(§3.2); see the preset's comments for the calibration choices. These are the slow tests.
"""

from __future__ import annotations

import pytest

from margincall.sim.run_folder import simulate
from margincall.sim.scenario import load_scenario


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_calm_has_no_cascade_and_the_stylized_facts(seed):
    summary = simulate(load_scenario("calm"), seed)[1]
    oi = summary["open_interest_usd"]["start"]
    assert summary["liquidations"]["total_usd"] < 0.005 * oi
    facts = summary["stylized_facts"]
    assert facts["excess_kurtosis_1m"] > 3
    assert facts["abs_return_acf_1_10"] > 0.05
    assert abs(facts["return_acf_1"]) < 0.1
    assert summary["invariants"] == {"money_conserved": True, "open_interest_balanced": True}


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_feb_2026_reproduces_the_crash_from_its_inputs(seed):
    sim, summary, bars, _ = simulate(load_scenario("feb-2026"), seed)
    price, liq, oi = summary["price"], summary["liquidations"], summary["open_interest_usd"]
    assert abs(price["start"] - 73_000) < 0.01 * 73_000
    assert 58_800 <= price["min"] <= 61_200  # within the 24 h run
    assert 1.0e9 <= liq["total_usd"] <= 2.0e9
    assert 0.80 <= liq["long_usd"] / liq["total_usd"] <= 0.92
    assert 5e6 <= liq["largest_usd"] <= 25e6
    assert 0.05 <= 1 - oi["end"] / oi["start"] <= 0.20
    low = bars["low"].arg_min()
    assert bars["funding_rate"][low] < 0  # the perp trades at a discount at the low
    assert liq["peak_hour_usd"] >= 0.2 * liq["total_usd"]
    assert summary["invariants"] == {"money_conserved": True, "open_interest_balanced": True}
    # the price path comes from the agents and the venue: the index moved with their flows
    assert sim.arb.spot_flow_usd is not None and sim.index.permanent != 0
