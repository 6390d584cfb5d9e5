"""``margincall monitor`` and ``margincall stress --from`` of a market run folder: one (venue,
instrument) picked by --venue and --instrument (default: the first venue, BTC); bad picks exit 2
naming the value and the choices, nothing written."""

from __future__ import annotations

import json

import polars as pl
import pytest
from cli_helpers import assert_refused, invoke


def pair_bars(folder, venue: str, symbol: str) -> pl.DataFrame:
    bars = pl.read_parquet(folder / "candles.parquet")
    return bars.filter((pl.col("venue") == venue) & (pl.col("symbol") == symbol)).sort("ts")


@pytest.mark.parametrize(
    ("options", "venue", "symbol", "name"),
    [([], "cex", "BTCUSDT", "BTC on cex"),
     (["--venue", "dex", "--instrument", "ETH"], "dex", "ETHUSDT", "ETH on dex"),
     (["--instrument", "ethusdt"], "cex", "ETHUSDT", "ETH on cex")],
)  # fmt: skip
def test_monitor_reports_the_picked_pair(market_run, tmp_path, options, venue, symbol, name):
    out = tmp_path / "report"
    r = invoke(["monitor", market_run, "--out", out, "--json", *options])
    assert r.exit_code == 0, r.output
    s = json.loads(r.stdout)
    assert s["symbol"] == name
    assert (s["sources"][0]["venue"], s["sources"][0]["instrument"]) == (venue, symbol)
    bars = pair_bars(market_run, venue, symbol)
    assert s["rows"] == bars.height == 60
    assert s["price"]["last_close"] == bars["close"][-1]
    assert s["price"]["window_low"] == bars["low"].min()
    assert s["liquidations_24h"]["long_usd"] == pytest.approx(bars["liq_long_usd"].sum())
    assert (out / "report.html").is_file()


@pytest.mark.parametrize(
    ("options", "needles"),
    [(["--venue", "okx"], ["--venue", "okx", "cex, dex"]),
     (["--venue", "dex", "--instrument", "SOL"], ["--instrument", "SOL", "BTCUSDT, ETHUSDT"])],
)  # fmt: skip
def test_a_bad_pick_exits_2_naming_it_and_the_choices(market_run, tmp_path, options, needles):
    out = tmp_path / "report"
    assert_refused(invoke(["monitor", market_run, "--out", out, *options]), *needles)
    assert not out.exists()


def test_a_pick_without_a_market_run_folder_is_refused(tmp_path):
    csv = tmp_path / "btc.csv"
    pl.DataFrame(
        {"ts": [f"2026-01-01T{h:02d}:00:00Z" for h in range(24)] * 2, "close": [1.0] * 48}
    ).write_csv(csv)
    out = tmp_path / "report"
    assert_refused(invoke(["monitor", csv, "--out", out, "--venue", "cex"]), "--venue", "cex")
    assert not out.exists()


@pytest.mark.parametrize(
    ("options", "venue", "symbol"),
    [([], "cex", "BTCUSDT"), (["--venue", "dex", "--instrument", "ETH"], "dex", "ETHUSDT")],
)
def test_stress_from_maps_the_picked_pairs_start_state(market_run, options, venue, symbol):
    r = invoke(["stress", "--from", market_run, "--shocks", "-5%,5%", "--json", *options])
    assert r.exit_code == 0, r.output
    res = json.loads(r.stdout)
    manifest = json.loads((market_run / "manifest.json").read_text())
    asset = next(a for a in manifest["scenario"]["assets"] if a["symbol"] == symbol)
    listing = next(x for x in asset["venues"] if x["venue"] == venue)
    assert res["reference_price"] == pytest.approx(asset["start_price"], rel=1e-4)
    m = res["assumptions"]["map"]
    assert (m["venue"], m["symbol"]) == (venue, symbol)
    assert res["assumptions"]["impact"]["depth_1pct_usd"] == listing["depth_1pct_usd"]
    assert res["long_total_usd"] > 0 and res["short_total_usd"] > 0


def test_the_market_map_holds_every_population_leg_of_the_pair(market_run):
    """Every leg the population opened on the pair is on the map, and nothing else (no maker,
    desk, noise trader or arbitrageur)."""
    import numpy as np

    from margincall.inputs.maps import read_manifest
    from margincall.inputs.market_maps import map_from_market_folder
    from margincall.sim.market import parse_market
    from margincall.sim.market_kernel import MarketSimulation
    from margincall.sources.market_run import MarketPick

    manifest = read_manifest(market_run)
    m, book = map_from_market_folder(market_run, manifest, MarketPick("dex", "BTC"))
    sim = MarketSimulation(
        parse_market(manifest["scenario"]), manifest["seed"], accounts=manifest["accounts"]
    )
    vr = sim.venues[1]
    j = vr.symbols.index("BTCUSDT")
    assert m.assumptions["positions"] == int(np.sum(vr.legs.instrument == j)) > 0
    assert book.makers.depth_1pct_usd == vr.listing[j].depth_1pct_usd


@pytest.mark.parametrize(
    ("options", "needles"),
    [(["--venue", "okx"], ["--venue", "okx", "cex, dex"]),
     (["--instrument", "DOGE"], ["--instrument", "DOGE", "BTCUSDT, ETHUSDT"])],
)  # fmt: skip
def test_stress_refuses_a_bad_pick(market_run, tmp_path, options, needles):
    out = tmp_path / "stress"
    args = ["stress", "--from", market_run, "--out", out, *options]
    assert_refused(invoke(args), *needles)
    assert not out.exists()


def test_stress_refuses_a_pick_without_a_market_run_folder():
    r = invoke(["stress", "calm", "--accounts", "200", "--venue", "cex"])
    assert_refused(r, "--venue", "cex", "market run folder")


def test_the_candles_hold_each_pairs_open_interest_and_stress_from_data_reads_it(
    market_run, tmp_path
):
    """Each venue's snapshots reach the candles: a pair's last open interest is the summary's,
    and the market-data estimate of ``stress --from-data`` is built from the picked pair."""
    summary = json.loads((market_run / "summary.json").read_text())
    for venue, symbol in (("cex", "BTCUSDT"), ("dex", "ETHUSDT")):
        bars = pair_bars(market_run, venue, symbol)
        oi = summary["by_venue"][venue]["instruments"][symbol]["open_interest_usd"]
        assert bars["open_interest_usd"].drop_nans()[-1] == pytest.approx(oi["end"])
        depth = bars["depth_1pct_usd"]
        assert depth.is_nan().sum() == 0  # every bar has a snapshot
        assert depth.max() > 0  # (the test market's default makers widen past ±1% for minutes)
    r = invoke(["stress", "--from-data", market_run, "--venue", "dex", "--out", tmp_path / "s"])
    assert r.exit_code == 0, r.output
