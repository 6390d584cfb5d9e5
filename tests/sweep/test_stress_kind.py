"""A stress-grid sweep (the estimator) writes its rows through the same store."""

from __future__ import annotations

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
