"""``margincall monitor``: the real file, a simulated feb-2026 run folder, and bad input (exit
code 2, the message names what was wrong, nothing written to --out)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from margincall.cli import app
from margincall.monitor.indicators import MIN_ROWS
from margincall.monitor.prose import usd
from margincall.monitor.report import SECTIONS

runner = CliRunner()
AT = "2026-02-06T01:00:00Z"


def headings(md: str) -> list[str]:
    return [line for line in md.splitlines() if line.startswith("## ")]


def html_headings(page: str) -> list[str]:
    return re.findall(r"<h2>(.*?)</h2>", page)


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    """A small feb-2026 simulated run (2,000 accounts, 3 hours)."""
    from margincall.sim.run_folder import write_run
    from margincall.sim.scenario import load_scenario

    out = tmp_path_factory.mktemp("sim") / "run"
    sc = load_scenario("feb-2026").with_overrides(hours=3, accounts=2000, rulebook=None)
    write_run(out, sc, seed=1)
    return out


def test_monitor_real_file_writes_the_four_files(real_csv, tmp_path):
    out = tmp_path / "report"
    result = runner.invoke(app, ["monitor", str(real_csv), "--out", str(out), "--at", AT, "--json"])
    assert result.exit_code == 0, result.output
    s = json.loads(result.output)
    assert sorted(p.name for p in out.iterdir()) == [
        "metrics.parquet",
        "report.html",
        "report.md",
        "summary.json",
    ]
    assert json.loads((out / "summary.json").read_text()) == s
    assert s["at"] == AT and s["price"]["window_low"] == 60_000.0
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left


def test_run_folder_report_has_the_same_sections_as_the_real_one(real_csv, tmp_path, run_folder):
    real, sim = tmp_path / "real", tmp_path / "sim"
    assert (
        runner.invoke(app, ["monitor", str(real_csv), "--out", str(real), "--at", AT]).exit_code
        == 0
    )
    result = runner.invoke(app, ["monitor", str(run_folder), "--out", str(sim)])
    assert result.exit_code == 0, result.output
    md_real, md_sim = (real / "report.md").read_text(), (sim / "report.md").read_text()
    assert headings(md_real) == headings(md_sim) == [f"## {h}" for h in SECTIONS]
    assert html_headings((real / "report.html").read_text()) == html_headings(
        (sim / "report.html").read_text()
    )
    s = json.loads((sim / "summary.json").read_text())
    assert s["liquidations_24h"]["long_usd"] > 0 and s["watch"] is not None
    m = pl.read_parquet(sim / "metrics.parquet")
    assert m.height >= MIN_ROWS and m["rsi_14"].drop_nulls().len() > 0


def test_run_folder_alone(tmp_path, run_folder):
    out = tmp_path / "sim"
    result = runner.invoke(app, ["monitor", str(run_folder), "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    s = json.loads(result.output)
    assert "own bars" in s["sources"][0]["bar"]  # 3 hours < 34 bars: minute bars kept
    assert headings((out / "report.md").read_text()) == [f"## {h}" for h in SECTIONS]


def test_run_folder_largest_hour_sums_the_hours_minutes(tmp_path, run_folder):
    """Minute bars: "the largest hour" is the clock hour with the most liquidated (its minutes
    summed), not the largest one-minute bar (issue 18, defect 7)."""
    out = tmp_path / "sim"
    result = runner.invoke(app, ["monitor", str(run_folder), "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    s = json.loads(result.output)
    m = pl.read_parquet(out / "metrics.parquet").fill_nan(0.0).fill_null(0.0)
    hours = (
        m.with_columns(hour=pl.col("ts").dt.truncate("1h"))
        .group_by("hour")
        .agg(pl.col("liq_long_usd").sum(), pl.col("liq_short_usd").sum(), pl.len().alias("n"))
        .with_columns(total=pl.col("liq_long_usd") + pl.col("liq_short_usd"))
        .sort("total", descending=True)
    )
    top = hours.row(0, named=True)
    big = s["liquidations_24h"]["largest_hour"]
    assert big["total_usd"] == pytest.approx(top["total"], rel=1e-12)
    assert big["long_usd"] == pytest.approx(top["liq_long_usd"], rel=1e-12)
    assert datetime.fromisoformat(big["ts"]) == top["hour"]
    assert big["from"]["row_count"] == top["n"] > 1
    minute = (m["liq_long_usd"] + m["liq_short_usd"]).max()
    assert big["total_usd"] > minute  # the hour holds more than its largest minute
    assert f"with {usd(big['total_usd'])} liquidated" in " ".join(s["sentences"])


def fail(args: list[str], out) -> str:
    result = runner.invoke(app, [*args, "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert not out.exists()
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]
    return " ".join(result.output.split())


def squeezed(msg: str) -> str:
    """The message without any white space (rich wraps long paths mid-word)."""
    return "".join(msg.split())


def test_unrecognised_file_names_the_file_and_the_formats(tmp_path):
    bad = tmp_path / "notes.csv"
    bad.write_text("a,b\nx,y\n")
    msg = fail(["monitor", str(bad)], tmp_path / "out")
    assert "notes.csv" in squeezed(msg) and "formats tried" in msg and "Binance kline" in msg
    missing = fail(["monitor", str(tmp_path / "nope.csv")], tmp_path / "out")
    assert "nope.csv" in squeezed(missing)
    binary = tmp_path / "blob.parquet"
    binary.write_bytes(b"\x00\x01garbage")
    msg = fail(["monitor", str(binary)], tmp_path / "out")
    assert "blob.parquet" in squeezed(msg) and "formats tried" in msg


def test_too_few_rows_says_how_many_are_needed(tmp_path):
    n = 10
    ts = [datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=h) for h in range(n)]
    close = np.linspace(100, 110, n)
    pl.DataFrame({"ts": ts, "close": close, "high": close, "low": close}).write_csv(
        tmp_path / "short.csv"
    )
    msg = fail(["monitor", str(tmp_path / "short.csv")], tmp_path / "out")
    assert f"at least {MIN_ROWS} rows" in msg and "10" in msg


def test_at_outside_the_data_is_refused(real_csv, tmp_path):
    msg = fail(["monitor", str(real_csv), "--at", "2027-01-01T00:00:00Z"], tmp_path / "out")
    assert "--at" in msg and "2025-12-04T06:00:00Z" in squeezed(msg)
    msg = fail(["monitor", str(real_csv), "--at", "yesterday"], tmp_path / "out")
    assert "ISO 8601" in msg


def test_too_few_rows_before_at(real_csv, tmp_path):
    msg = fail(["monitor", str(real_csv), "--at", "2025-12-04T10:00:00Z"], tmp_path / "out")
    assert f"at least {MIN_ROWS} rows" in msg


def test_existing_out_is_left_alone(real_csv, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    result = runner.invoke(app, ["monitor", str(real_csv), "--out", str(out)])
    assert result.exit_code == 2 and "new or empty folder" in " ".join(result.output.split())
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


def test_bad_mapping_is_refused(tmp_path):
    ts = [datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=h) for h in range(40)]
    pl.DataFrame({"Date": ts, "Close": np.linspace(1, 2, 40)}).write_csv(tmp_path / "t.csv")
    msg = fail(["monitor", str(tmp_path / "t.csv"), "--mapping", "close"], tmp_path / "out")
    assert "--mapping" in msg
    msg = fail(["monitor", str(tmp_path / "t.csv"), "--mapping", "close=Nope"], tmp_path / "out")
    assert "Nope" in squeezed(msg)
