"""A stress-grid sweep (the estimator) writes its rows through the same store."""

from __future__ import annotations

import pytest
from sweep_helpers import cli

from margincall.core.errors import InvalidInputError
from margincall.estimate import stress as st
from margincall.inputs.maps import map_from_scenario
from margincall.store.db import query
from margincall.sweep import runner
from margincall.sweep.spec import load_spec

SPEC = """
kind = "stress"
name = "stress-tiny"
scenario = "calm"
seeds = [1, 2]
[set]
"run.accounts" = 500
[grid]
"population.retail.leverage_max" = [50, 125]
[stress]
shocks = "-2%,-8%,3%"
depth_scales = [0.5, 1]
refill = 0.5
[backend]
workers = 1
"""


def test_stress_sweep_rows_match_the_estimator(tmp_path):
    spec = tmp_path / "stress.toml"
    spec.write_text(SPEC)
    out = tmp_path / "out"
    outcome = runner.run(runner.prepare(spec, out))
    assert (outcome.ok, outcome.failed) == (4, 0)
    _, (n,) = query(out, "SELECT count(*), count(DISTINCT run_id) FROM runs")
    assert n == (4 * 3 * 2, 4)  # 4 runs x 3 shocks x 2 depth scales
    run = load_spec(spec).runs[3]  # leverage_max 125, seed 2
    sc = load_spec(spec).scenario_for(run)
    lmap, _ = map_from_scenario(sc, run.seed)
    source = st.Source(lmap, "scenario", sc)
    expected = st.run_stress(
        source,
        st.build_impact("depth", source, refill=0.5),
        st.parse_shocks("-2%,-8%,3%"),
        [0.5, 1.0],
        [1.0],
    )["rows"]
    _, got = query(
        out,
        "SELECT shock, depth_scale, final_move, long_liquidated_usd, short_liquidated_usd "
        f"FROM runs WHERE run_id = '{run.run_id}' ORDER BY cell",
    )
    assert got == [
        (
            e["shock"],
            e["depth_scale"],
            e["final_move"],
            e["long_liquidated_usd"],
            e["short_liquidated_usd"],
        )
        for e in expected
    ]


@pytest.mark.parametrize(
    ("stress", "says"),
    [
        ('shocks = "-2%:x"', "stress.shocks='-2%:x': expected a shock or a range"),
        ('shocks = "-150%"', "stress.shocks='-150%': expected shocks strictly between -99%"),
        ("depth_scales = [-1]", "stress.depth_scales.0=-1: expected greater than 0"),
        ("depth_scales = []", "stress.depth_scales=[]: expected List should have at least 1 item"),
        ("leverage_scales = [0]", "stress.leverage_scales.0=0: expected greater than 0"),
        ("depth_scales = [nan]", "stress.depth_scales.0=nan: expected a finite number"),
        ('impact = "sqrt"\nrefill = 0.5', "stress.refill=0.5: expected 0 with --impact sqrt"),
        ('rulebook = "nope"', "stress.rulebook='nope': expected binance, bitmex"),
        ("refill = 2", "stress.refill"),
    ],
)
def test_stress_values_are_checked_before_any_run(tmp_path, stress, says):
    spec = tmp_path / "stress.toml"
    spec.write_text(SPEC.split("[stress]")[0] + f"[stress]\n{stress}\n[backend]\nworkers = 1\n")
    out = tmp_path / "out"
    with pytest.raises(InvalidInputError) as exc:
        runner.prepare(spec, out)
    assert says in str(exc.value)
    assert not out.exists()  # nothing written, no run started
    r = cli("sweep", str(spec), "--out", str(out))
    assert r.returncode == 2 and says in r.stderr and "Traceback" not in r.stderr
    assert not out.exists()
