"""The simulator end to end on small runs: invariants, determinism, the run folder, bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from margincall.cli import app
from margincall.events.log import digest, read_parquet
from margincall.events.schema import EventKind
from margincall.report.candles import COLUMNS
from margincall.sim import run_folder
from margincall.sim.kernel import Simulation
from margincall.sim.scenario import load_scenario

runner = CliRunner()
SMALL = {"accounts": 3_000, "hours": 0.5}


def small(name: str = "flash-crash", **run):
    sc = load_scenario(name).with_overrides(**{**SMALL, **run})
    if name == "flash-crash":  # the shock at minute 6, so a half-hour run holds the cascade
        data = sc.model_dump()
        data["flow"]["shocks"][0]["hour"] = 0.1
        data["flow"]["spot"][0].update(start_hour=0.1, end_hour=0.3)
        from margincall.sim.scenario import parse_scenario

        sc = parse_scenario(data)
    return sc


def test_invariants_hold_after_every_checked_step_of_a_cascade():
    sim = Simulation(small(), seed=3)
    checked = []

    def check(step, steps, liquidations):
        sim.venue.check_invariants()  # money conserved, OI balanced, book uncrossed, losses covered
        checked.append(step)

    sim.run(check)
    sim.venue.check_invariants()
    assert len(checked) >= 100
    kinds = sim.venue.log.records()["kind"]
    assert (kinds == int(EventKind.LIQUIDATION_TRIGGERED)).sum() > 0  # the shock did cascade


def test_phase_order_inside_a_step_is_fixed():
    sim = Simulation(small(hours=0.05), seed=1)
    n0 = len(sim.venue.log)
    sim.run()
    ev = sim.venue.log.records()[n0:]
    step = ev[ev["ts_ns"] == ev["ts_ns"][ev["kind"] == int(EventKind.DEPTH_SNAPSHOT)][-1]]
    order = [int(k) for k in step["kind"]]
    first = {k: order.index(k) for k in set(order)}
    # index before orders, orders before the mark, liquidations before the snapshot
    assert first[int(EventKind.INDEX_PRICE_UPDATED)] == 0
    assert first[int(EventKind.ORDER_ACCEPTED)] < first.get(
        int(EventKind.MARK_PRICE_UPDATED), 10**9
    )
    assert first[int(EventKind.DEPTH_SNAPSHOT)] > first[int(EventKind.ORDER_ACCEPTED)]
    assert np.all(np.diff(ev["seq"]) == 1)


def test_same_scenario_and_seed_give_the_same_log_in_two_processes(tmp_path):
    args = [
        sys.executable, "-m", "margincall.cli", "simulate", "flash-crash",
        "--accounts", "2000", "--hours", "0.2", "--seed", "5", "--json",
    ]  # fmt: skip
    outs = [subprocess.run(args, capture_output=True, text=True, check=True) for _ in range(2)]
    sums = [json.loads(o.stdout)["event_log_sha256"] for o in outs]
    assert sums[0] == sums[1]
    other = subprocess.run([*args[:-2], "6", "--json"], capture_output=True, text=True, check=True)
    assert json.loads(other.stdout)["event_log_sha256"] != sums[0]


def test_run_folder_holds_every_file_and_they_agree(tmp_path):
    out = tmp_path / "run"
    summary = run_folder.write_run(out, small(), seed=2)
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "candles.parquet",
        "events.parquet",
        "manifest.json",
        "price_liquidations.png",
        "report.html",
        "summary.json",
    ]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == 2 and manifest["scenario"]["name"] == "flash-crash"
    assert "package_version" in manifest and "git_revision" in manifest
    saved = json.loads((out / "summary.json").read_text())
    assert saved == json.loads(json.dumps(summary))
    events, meta = read_parquet(out / "events.parquet")
    assert digest(events) == saved["event_log_sha256"]
    assert meta["tick_size"] == "0.1"
    bars = pl.read_parquet(out / "candles.parquet")
    assert bars.columns == list(COLUMNS) and bars.height == 30
    assert saved["invariants"] == {"money_conserved": True, "open_interest_balanced": True}
    for key in (
        "scenario", "seed", "accounts", "hours", "rulebook", "price", "liquidations",
        "open_interest_usd", "insurance_fund_usd", "adl", "funding_rate", "stylized_facts",
        "event_log_sha256", "wall_seconds",
    ):  # fmt: skip
        assert key in saved
    assert (out / "price_liquidations.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "https://" not in (out / "report.html").read_text()[:2000]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_an_interrupted_run_leaves_no_folder(tmp_path, monkeypatch):
    out = tmp_path / "run"

    def stop(step, steps, liq):
        if step > steps // 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_folder.write_run(out, small(), seed=1, progress=stop)
    assert list(tmp_path.iterdir()) == []

    def broken(*args, **kwargs):
        raise OSError("disk full")

    from margincall.report import figures

    monkeypatch.setattr(figures, "write_price_png", broken)  # run_folder imports it when writing
    with pytest.raises(OSError):
        run_folder.write_run(out, small(hours=0.05), seed=1)
    assert list(tmp_path.iterdir()) == []  # the half-written temporary folder is gone too


def test_existing_out_is_refused_unless_force(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    args = ["simulate", "flash-crash", "--accounts", "2000", "--hours", "0.05", "--out", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and "--force" in result.output
    assert (out / "keep.txt").read_text() == "mine"
    result = runner.invoke(app, [*args, "--force", "--json"])
    assert result.exit_code == 0, result.output
    assert (out / "summary.json").is_file() and not (out / "keep.txt").exists()


def test_cli_bad_input_exits_2_and_writes_nothing(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[market]\nstart_price = 'lots'\n")
    out = tmp_path / "run"
    result = runner.invoke(app, ["simulate", str(bad), "--out", str(out)])
    assert result.exit_code == 2
    assert "market.start_price" in result.output and "lots" in result.output
    assert not out.exists()
    result = runner.invoke(app, ["simulate", "feb-2025"])
    assert result.exit_code == 2 and "feb-2026" in result.output and "calm" in result.output
    result = runner.invoke(app, ["simulate", "calm", "--accounts", "5"])
    assert result.exit_code == 2 and "run.accounts" in result.output


def test_scenarios_and_scenario_show():
    result = runner.invoke(app, ["scenarios"])
    assert result.exit_code == 0
    for name in ("calm", "flash-crash", "feb-2026"):
        assert name in result.output
    result = runner.invoke(app, ["scenario", "show", "feb-2026"])
    assert result.exit_code == 0
    assert load_scenario("feb-2026").run.accounts > 0
    assert result.output.startswith('name = "feb-2026"')
    result = runner.invoke(app, ["scenario", "show", "nope"])
    assert result.exit_code == 2 and "flash-crash" in result.output


def test_summary_table_is_printed():
    result = runner.invoke(
        app, ["simulate", "flash-crash", "--accounts", "2000", "--hours", "0.05"]
    )
    assert result.exit_code == 0, result.output
    assert "liquidated, long / short" in result.output and "money conserved" in result.output


@pytest.mark.parametrize("rulebook", ["bitmex", "dydx", "hyperliquid"])
def test_every_rulebook_runs_a_cascade_with_its_invariants(rulebook):
    sim = Simulation(small(rulebook=rulebook, accounts=2_000), seed=4)
    sim.run(lambda step, steps, liq: sim.venue.check_invariants() if step % 50 == 0 else None)
    sim.venue.check_invariants()
    assert sim.venue.rulebook.name == rulebook
