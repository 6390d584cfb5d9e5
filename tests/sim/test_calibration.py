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
