"""The dashboard over a market run folder: the runs list, the run's venues and instruments, and
the replay's series of one (venue, instrument), validated."""

from __future__ import annotations

import json
import shutil

import polars as pl
import pytest
from dashboard_helpers import LOCAL, RUN_NAME
from fastapi.testclient import TestClient

from margincall.web.app import create_app

MARKET = "market-run"


@pytest.fixture
def client(runs_dir, market_run):
    shutil.copytree(market_run, runs_dir / MARKET)
    with TestClient(create_app(runs_dir, max_sims=1), base_url=LOCAL) as c:
        yield c


def test_the_runs_list_shows_the_market_totals(client, market_run):
    rows = {r["name"]: r for r in client.get("/api/runs").json()}
    s = json.loads((market_run / "summary.json").read_text())
    r = rows[MARKET]
    assert r["market"] is True and r["venues"] == ["cex", "dex"]
    assert r["liquidated_long_usd"] == s["market"]["long_usd"]
    assert r["liquidated_short_usd"] == s["market"]["short_usd"]
    assert r["liquidated_accounts"] == s["market"]["traders_liquidated"]
    assert RUN_NAME in rows  # the single-venue run is still listed


def test_a_market_run_names_its_venues_and_instruments(client):
    run = client.get(f"/api/runs/{MARKET}").json()
    assert run["pairs"] == {"cex": ["BTCUSDT", "ETHUSDT"], "dex": ["BTCUSDT", "ETHUSDT"]}
    assert client.get(f"/api/runs/{RUN_NAME}").json()["pairs"] is None


@pytest.mark.parametrize(
    ("query", "venue", "symbol"),
    [("", "cex", "BTCUSDT"), ("?venue=dex&symbol=ETH", "dex", "ETHUSDT"),
     ("?venue=cex&symbol=ethusdt", "cex", "ETHUSDT")],
)  # fmt: skip
def test_the_replay_series_are_the_pairs_candle_rows(client, market_run, query, venue, symbol):
    series = client.get(f"/api/runs/{MARKET}/series{query}").json()
    assert (series["venue"], series["symbol"]) == (venue, symbol)
    bars = pl.read_parquet(market_run / "candles.parquet").filter(
        (pl.col("venue") == venue) & (pl.col("symbol") == symbol)
    )
    assert series["bars"] == bars.height == 60
    assert series["ts"] == bars["ts"].dt.epoch("ms").to_list()
    assert series["close"] == bars["close"].to_list()
    assert series["liq_long_usd"] == bars["liq_long_usd"].to_list()
    events = pl.read_parquet(market_run / "events.parquet").filter(
        (pl.col("kind_name") == "adl_executed") & (pl.col("liquidity") == 2)
        & (pl.col("venue") == venue) & (pl.col("symbol") == symbol)
    )  # fmt: skip
    assert len(series["adl"]["ts"]) == events.height


@pytest.mark.parametrize(
    ("query", "needles"),
    [("?venue=okx", ["okx", "cex, dex"]),
     ("?venue=dex&symbol=SOL", ["SOL", "BTCUSDT, ETHUSDT"]),
     ("?symbol=%3Cb%3E", ["<b>", "BTCUSDT"])],
)  # fmt: skip
def test_an_unknown_venue_or_symbol_is_a_400_naming_it_and_the_choices(client, query, needles):
    r = client.get(f"/api/runs/{MARKET}/series{query}")
    assert r.status_code == 400
    assert r.headers["content-type"].startswith("application/json")
    for needle in needles:
        assert needle in r.json()["error"]


def test_a_single_venue_run_takes_no_venue(client):
    r = client.get(f"/api/runs/{RUN_NAME}/series?venue=cex")
    assert r.status_code == 400 and "single-venue" in r.json()["error"]
    assert client.get(f"/api/runs/{RUN_NAME}/series").status_code == 200


def test_a_too_long_venue_is_refused_by_the_api(client):
    r = client.get(f"/api/runs/{MARKET}/series?venue={'x' * 65}")
    assert r.status_code == 422


def test_the_stress_page_refuses_a_market_run_in_a_sentence(client):
    r = client.get(f"/api/stress/map?run={MARKET}")
    assert r.status_code == 422
    assert f"run {MARKET!r} is a market run" in r.json()["error"]
