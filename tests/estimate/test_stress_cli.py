"""``margincall stress``: table, JSON, HTML and bad input (exit 2, nothing written)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from margincall.cli import app
from margincall.core.errors import InvalidInputError
from margincall.estimate.stress import parse_shocks

runner = CliRunner()


def test_parse_shocks_ranges_and_lists():
    assert np.allclose(parse_shocks("-2%:-6%:1%"), [-0.02, -0.03, -0.04, -0.05, -0.06])
    assert np.allclose(parse_shocks("-5%,3%,-0.1"), [-0.05, 0.03, -0.1])
    assert np.allclose(parse_shocks("1%:3%:1%,-1%"), [0.01, 0.02, 0.03, -0.01])
    assert len(parse_shocks("-1%:-20%:0.5%")) == 39


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("-99%", "-99"),
        ("-150%", "-150"),
        ("1000%", "1000"),
        ("-2%:-20%:0%", "step"),
        ("abc", "abc"),
        ("-2%:-3%", "range"),
        ("", "shocks"),
    ],
)
def test_parse_shocks_refuses(text, needle):
    with pytest.raises(InvalidInputError) as e:
        parse_shocks(text)
    assert needle in str(e.value)


def test_stress_scenario_table_json_and_html(tmp_path):
    out = tmp_path / "st"
    args = ["stress", "calm", "--accounts", "2000", "--shocks", "-2%:-10%:2%,3%"]
    r = runner.invoke(app, [*args, "--depth-1pct", "5e9", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "final move" in r.output and "depth-curve walk" in r.output
    assert "5,000,000,000" in r.output and "rulebook: binance" in r.output
    data = json.loads((out / "stress.json").read_text())
    assert [row["shock"] for row in data["rows"]] == pytest.approx(
        [-0.02, -0.04, -0.06, -0.08, -0.1, 0.03]
    )
    longs = [row["long_liquidated_usd"] for row in data["rows"][:5]]
    assert longs == sorted(longs) and longs[-1] > 0
    assert data["rows"][-1]["short_liquidated_usd"] > 0
    page = (out / "stress.html").read_text()
    assert "<script src=" not in page and len(page) > 1_000_000  # plotly.js embedded: offline
    assert "liquidation map" in page
    r = runner.invoke(app, [*args, "--json", "--impact", "sqrt", "--depth-scale", "0.5,2"])
    assert r.exit_code == 0, r.output
    j = json.loads(r.output)
    assert len(j["rows"]) == 12 and j["assumptions"]["impact"]["impact"] == "square-root law"
    deep = [x for x in j["rows"] if x["depth_scale"] == 2.0]
    thin = [x for x in j["rows"] if x["depth_scale"] == 0.5]
    assert all(
        a["long_liquidated_usd"] <= b["long_liquidated_usd"]
        for a, b in zip(deep, thin, strict=True)
    )


def test_stress_says_when_the_cascade_runs_to_the_price_bound():
    args = ["stress", "feb-2026", "--accounts", "4000", "--shocks", "-3%"]
    thin = runner.invoke(app, [*args, "--depth-1pct", "1e6"])
    deep = runner.invoke(app, [*args, "--depth-1pct", "5e10"])
    assert thin.exit_code == 0 and deep.exit_code == 0, thin.output + deep.output
    assert "1 of 1 shocks ran to the price bound" in thin.output
    assert "price bound" not in deep.output


def test_stress_positions_file(tmp_path):
    f = tmp_path / "pos.csv"
    f.write_text("side,qty,entry,leverage\nlong,1,60000,10\nlong,2,61000,20\nshort,1,60000,10\n")
    r = runner.invoke(
        app,
        [
            "stress",
            "--positions",
            str(f),
            "--price",
            "60000",
            "--json",
            "--shocks",
            "-5%,-10%,10%",
            "--depth-1pct",
            "1e12",
        ],
    )
    assert r.exit_code == 0, r.output
    rows = json.loads(r.output)["rows"]
    # -5%: the 20x long (liq ~58,185) only; -10%: both longs; +10%: the 10x short (~65,737)
    assert rows[0]["long_liquidated_usd"] == pytest.approx(2 * 58_185, rel=1e-3)
    assert rows[1]["long_liquidated_usd"] > rows[0]["long_liquidated_usd"]
    assert rows[2]["short_liquidated_usd"] == pytest.approx(65_737, rel=1e-3)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["calm", "--shocks", "-120%"], "-99%"),
        (["calm", "--shocks", "5%:50%:0"], "step"),
        (["calm", "--depth-scale", "0"], "--depth-scale"),
        (["calm", "--impact", "linear"], "--impact"),
        ([], "exactly one of"),
        (["calm", "--from", "runs/nothing-here"], "--from"),
        (["--from-data", "/nonexistent/file.csv"], "--from-data"),
        (["no-such-scenario"], "no-such-scenario"),
        (["calm", "--beta", "9"], "beta"),
        (["calm", "--refill", "1.5"], "refill"),
        (["calm", "--impact", "sqrt", "--refill", "0.5"], "--refill"),
    ],
)
def test_stress_bad_input_exit_2_nothing_written(tmp_path, args, needle):
    out = tmp_path / "out"
    r = runner.invoke(app, ["stress", *args, "--out", str(out)])
    assert r.exit_code == 2, r.output
    assert needle in r.output
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_stress_from_run_folder(tmp_path):
    from margincall.sim.scenario import load_scenario

    sc = load_scenario("calm").with_overrides(accounts=1500)
    run = tmp_path / "run"
    run.mkdir()
    (run / "manifest.json").write_text(
        json.dumps({"scenario": sc.model_dump(mode="json"), "seed": 3})
    )
    a = runner.invoke(app, ["stress", "--from", str(run), "--json", "--shocks", "-4%"])
    b = runner.invoke(
        app, ["stress", "calm", "--accounts", "1500", "--seed", "3", "--json", "--shocks", "-4%"]
    )
    assert a.exit_code == 0 and b.exit_code == 0, a.output + b.output
    assert json.loads(a.output)["rows"] == json.loads(b.output)["rows"]


def test_stress_from_market_data_file(real_csv):
    data = real_csv
    r = runner.invoke(app, ["stress", "--from-data", str(data), "--shocks", "-2%,-4%,3%"])
    assert r.exit_code == 0, r.output
    assert "leverage weights" in r.output and "market data" in r.output
    r = runner.invoke(app, ["stress", "--from-data", str(data), "--shocks", "-2%,-4%", "--json"])
    rows = json.loads(r.output)["rows"]
    assert 0 < rows[0]["long_liquidated_usd"] <= rows[1]["long_liquidated_usd"]


def test_stress_bad_market_data_file(tmp_path):
    f = tmp_path / "bad.csv"
    f.write_text("a,b\n1,2\n")
    r = runner.invoke(app, ["stress", "--from-data", str(f)])
    assert r.exit_code == 2 and "error" in r.output


def _files(folder) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_the_same_stress_writes_the_same_bytes(tmp_path):
    """No wall-clock time (and no random element id) in stress.json or stress.html."""
    args = ["stress", "calm", "--accounts", "1000", "--shocks", "-3%,-6%"]
    for name in ("a", "b"):
        r = runner.invoke(app, [*args, "--out", str(tmp_path / name)])
        assert r.exit_code == 0, r.output
    a, b = _files(tmp_path / "a"), _files(tmp_path / "b")
    assert sorted(a) == ["stress.html", "stress.json"]
    assert a == b
