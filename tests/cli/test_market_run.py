"""`margincall simulate` of a market scenario: its run folder, read by the existing readers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from cli_helpers import invoke

from margincall.events.log import read_parquet
from margincall.events.schema import EventKind
from margincall.report.candles import COLUMNS

TWO = Path(__file__).parents[1] / "sim" / "data" / "two-venue-market.toml"


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("market") / "run"
    r = invoke(["simulate", TWO, "--hours", "1", "--accounts", "800", "--out", out, "--json"])
    assert r.exit_code == 0, r.output
    return out


def test_the_market_run_folder_holds_every_file(run_folder):
    names = {p.name for p in run_folder.iterdir()}
    assert {"events.parquet", "candles.parquet", "summary.json", "manifest.json",
            "report.html"} <= names  # fmt: skip
    manifest = json.loads((run_folder / "manifest.json").read_text())
    assert [v["name"] for v in manifest["venues"]] == ["cex", "dex"]
    assert manifest["venues"][1]["instruments"][0]["symbol"] == "BTCUSDT"


def test_events_carry_venue_and_symbol_and_read_back_as_engine_records(run_folder):
    records, meta = read_parquet(run_folder / "events.parquet")  # the engine's reader
    table = pl.read_parquet(run_folder / "events.parquet")
    assert len(records) == table.height
    assert set(table["venue"].unique()) == {"cex", "dex"}
    assert set(table["symbol"].unique()) == {"", "BTCUSDT", "ETHUSDT"}
    liq = table.filter(pl.col("kind_name") == "liquidation_triggered")
    assert liq.height == int((records["kind"] == EventKind.LIQUIDATION_TRIGGERED).sum()) > 0
    assert (liq["symbol"] != "").all()
    assert meta["market"] == "true"


def test_candles_are_long_per_venue_and_symbol(run_folder):
    bars = pl.read_parquet(run_folder / "candles.parquet")
    assert set(COLUMNS) <= set(bars.columns)
    per = bars.group_by("venue", "symbol").len()
    assert per.height == 4 and (per["len"] == 60).all()


def test_the_summary_adds_venues_and_assets_up_to_the_market(run_folder):
    s = json.loads((run_folder / "summary.json").read_text())
    m = s["market"]
    by_venue = sum(v["long_usd"] + v["short_usd"] for v in s["by_venue"].values())
    by_asset = sum(a["total_usd"] for a in s["by_asset"].values())
    assert m["liquidated_usd"] == pytest.approx(by_venue) == pytest.approx(by_asset)
    assert m["liquidated_usd"] > 0
    assert m["traders_liquidated"] == sum(v["traders_liquidated"] for v in s["by_venue"].values())
    assert m["largest_liquidation"]["venue"] in s["by_venue"]
    assert s["by_asset"]["BTCUSDT"]["gap_between_venues"]["max_pct"] > 0.3
    assert s["invariants"]["every_venue_and_market_money"] is True
    bars = pl.read_parquet(run_folder / "candles.parquet")
    liq = bars.select(pl.col("liq_long_usd").sum() + pl.col("liq_short_usd").sum()).item()
    assert m["liquidated_usd"] == pytest.approx(liq)


def test_the_market_presets_are_listed():
    r = invoke(["scenarios"])
    assert r.exit_code == 0
    assert "feb-2026-market" in r.stdout and "oct-2025" in r.stdout


def test_an_account_holds_the_share_of_instruments_asked():
    from margincall.sim.market_population import holdings

    held = holdings(
        10_000, (0.6, 0.3, 0.1), np.array([5.0, 3.0, 1.0, 1.0]), np.random.default_rng(1)
    )
    counts = np.bincount(held.sum(axis=1), minlength=4)
    assert counts.tolist() == [0, 6000, 3000, 1000]
    share = held.sum(axis=0) / held.sum()
    assert share[0] > share[1] > share[2]  # by open interest


@pytest.mark.slow
def test_oct_2025_runs_from_its_inputs_and_writes_its_report(tmp_path):
    """issue 16's Must show: the held-out day runs its whole 24 hours and its report is written
    (at 20,000 accounts: the preset's market divided more coarsely, its figures not checked)."""
    out = tmp_path / "oct"
    r = invoke(["simulate", "oct-2025", "--accounts", "20000", "--out", out, "--json"])
    assert r.exit_code == 0, r.output
    s = json.loads((out / "summary.json").read_text())
    assert s["scenario"] == "oct-2025" and s["hours"] == 24
    assert s["invariants"]["every_venue_and_market_money"] is True
    assert s["market"]["liquidated_usd"] > 0
    report = (out / "report.html").read_text()
    assert "oct-2025" in report and "hyperliquid" in report
