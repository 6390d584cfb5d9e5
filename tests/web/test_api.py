"""The dashboard's JSON API in process: real run folders, real maps, real simulations."""

from __future__ import annotations

import json
import time

import polars as pl
import pytest
from dashboard_helpers import LOCAL, REAL_NAME, RUN_NAME, SHARED_DATA
from fastapi.testclient import TestClient

from margincall.web.app import create_app


@pytest.fixture
def client(runs_dir, data_dir):
    app = create_app(runs_dir, data_dir, max_sims=1)
    with TestClient(app, base_url=LOCAL) as c:
        yield c


def test_runs_list_has_the_headline_of_each_run(client, runs_dir):
    rows = client.get("/api/runs").json()
    assert [r["name"] for r in rows] == [RUN_NAME]
    s = json.loads((runs_dir / RUN_NAME / "summary.json").read_text())
    r = rows[0]
    assert r["scenario"] == "flash-crash" and r["accounts"] == 300
    assert r["price_min"] == s["price"]["min"]
    assert r["liquidated_long_usd"] == s["liquidations"]["long_usd"]
    assert r["max_drawdown"] == pytest.approx(s["price"]["min"] / s["price"]["start"] - 1)


def test_series_are_the_candles_of_the_run(client, runs_dir):
    series = client.get(f"/api/runs/{RUN_NAME}/series").json()
    bars = pl.read_parquet(runs_dir / RUN_NAME / "candles.parquet")
    assert series["bars"] == bars.height == len(series["ts"]) == len(series["close"])
    assert series["ts"] == sorted(series["ts"])
    assert series["close"][-1] == pytest.approx(bars["close"][-1])
    assert sum(v or 0 for v in series["liq_long_usd"]) == pytest.approx(bars["liq_long_usd"].sum())
    assert set(series["adl"]) == {"ts", "price", "notional_usd"}


def test_a_folder_without_summary_is_not_a_run(client, runs_dir):
    (runs_dir / "half").mkdir()
    assert [r["name"] for r in client.get("/api/runs").json()] == [RUN_NAME]
    r = client.get("/api/runs/half")
    assert r.status_code == 404 and "no run named" in r.json()["error"]


def test_stress_map_and_cascade_grow_with_the_shock(client):
    m = client.get("/api/stress/map", params={"run": RUN_NAME}).json()
    assert m["long_total_usd"] > 0 and len(m["bin_edges"]) == len(m["long_usd"]) + 1
    assert sum(m["long_usd"]) <= m["long_total_usd"] * (1 + 1e-9)
    small, big = (
        client.get(
            "/api/stress/cascade", params={"run": RUN_NAME, "shock": s, "depth_scale": 5}
        ).json()
        for s in (-0.01, -0.2)
    )
    assert big["long_liquidated_usd"] > small["long_liquidated_usd"]
    assert big["price"] < small["price"] < m["reference_price"]
    up = client.get("/api/stress/cascade", params={"run": RUN_NAME, "shock": 0.2}).json()
    assert up["long_liquidated_usd"] == 0 and up["short_liquidated_usd"] > 0


def test_stress_from_a_preset_and_its_errors(client):
    p = {"preset": "flash-crash", "accounts": 500, "seed": 2, "shock": -0.05}
    r = client.get("/api/stress/cascade", params=p)
    assert r.status_code == 200 and "preset flash-crash" in r.json()["source"]
    r = client.get("/api/stress/cascade", params={"shock": -0.05})
    assert r.status_code == 400 and "exactly one source" in r.json()["error"]
    r = client.get("/api/stress/cascade", params={**p, "shock": -0.9})
    assert r.status_code == 422 and "shock" in r.json()["error"]


def test_monitor_report_of_a_data_file(client, data_dir):
    if not (SHARED_DATA / REAL_NAME).is_file():
        pytest.skip(f"real market data not found at {SHARED_DATA}")
    names = [f["name"] for f in client.get("/api/data").json()]
    assert names == [REAL_NAME]  # notes.txt is not a data file
    r = client.get(f"/api/monitor/{REAL_NAME}").json()
    assert r["symbol"] and r["sentences"] and r["tables"]["headline"]
    assert len(r["metrics"]["ts"]) == len(r["metrics"]["close"]) > 100
    assert client.get("/api/monitor/notes.txt").status_code == 404


def test_bad_bodies_are_refused_with_a_message(client):
    r = client.post("/api/runs", json={"preset": "flash-crash", "hours": 1000})
    assert r.status_code == 422 and "hours" in r.json()["error"]
    r = client.post("/api/runs", json={"preset": "nope"})
    assert r.status_code == 422 and "preset" in r.json()["error"]
    r = client.post("/api/runs", json={"preset": "calm", "accounts": 10**9})
    assert r.status_code == 422 and "accounts" in r.json()["error"]
    r = client.post("/api/runs", json={"preset": "calm", "extra": 1})
    assert r.status_code == 422
    big = b'{"preset": "calm", "pad": "' + b"x" * 40_000 + b'"}'
    r = client.post("/api/runs", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413 and "too large" in r.json()["error"]
    for resp in (r, client.get("/api/jobs/ffffffffffff")):
        assert "Traceback" not in resp.text
    assert client.get("/api/jobs/ffffffffffff").status_code == 404


def test_a_run_started_from_the_api_is_written_and_listed(client, runs_dir):
    body = {"preset": "flash-crash", "hours": 0.1, "accounts": 200, "seed": 4, "name": "api-run"}
    r = client.post("/api/runs", json=body)
    assert r.status_code == 202, r.text
    job = r.json()
    assert job["state"] == "running" and job["name"] == "api-run"
    full = client.post("/api/runs", json={**body, "name": "second"})
    assert full.status_code == 429 and "--max-sims" in full.json()["error"]
    clash = client.post("/api/runs", json=body)
    assert clash.status_code == 409
    deadline = time.time() + 90
    while job["state"] == "running" and time.time() < deadline:
        time.sleep(0.5)
        job = client.get(f"/api/jobs/{job['id']}").json()
    assert job["state"] == "done", job
    assert (runs_dir / "api-run" / "candles.parquet").is_file()
    assert "api-run" in [r["name"] for r in client.get("/api/runs").json()]
    assert client.post("/api/runs", json=body).status_code == 409  # the folder exists now


def test_pages_and_plotly_are_served_locally(client):
    for path in ("/", "/stress", "/monitor", f"/runs/{RUN_NAME}"):
        r = client.get(path)
        assert r.status_code == 200 and "<html" in r.text
        assert "http://" not in r.text and "https://" not in r.text
    js = client.get("/vendor/plotly.min.js")
    assert js.status_code == 200 and len(js.content) > 1_000_000
    assert client.get("/runs/nope").status_code == 404
    assert "/api/runs" in client.get("/openapi.json").json()["paths"]


def test_stress_cascade_with_refill(client):
    base = {"run": RUN_NAME, "depth_scale": 2}
    for shock in (-0.03, -0.1, -0.2):
        none, full = (
            client.get("/api/stress/cascade", params={**base, "shock": shock, "refill": r}).json()
            for r in (0, 1)
        )
        assert (none["refill"], full["refill"]) == (0, 1)
        assert full["price"] >= none["price"]  # a refilled book never lets the price go further
        assert full["long_liquidated_usd"] <= none["long_liquidated_usd"]
    r = client.get("/api/stress/cascade", params={**base, "shock": -0.05, "refill": 2})
    assert r.status_code == 422 and "refill" in r.json()["error"]


def test_a_watched_monitor_report_is_served_as_text_and_fresh(tmp_path):
    """A monitor folder under --runs: its report.md as text/plain (markup in it stays text,
    never HTML), re-read after watch mode replaces it."""
    runs = tmp_path / "runs"
    folder = runs / "watch"
    folder.mkdir(parents=True)
    (folder / "summary.json").write_text('{"kind": "market"}\n')
    (folder / "report.md").write_text("# Market <script>alert(1)</script>\nrefresh 1\n")
    client = TestClient(create_app(runs, max_sims=1), base_url=LOCAL)
    r = client.get("/api/runs/watch/report")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["cache-control"] == "no-store"
    assert r.text.endswith("refresh 1\n") and "<script>" in r.text
    from margincall.core.atomic import write_atomic

    tag = r.headers["etag"]
    assert r.headers["last-modified"].endswith(" GMT")
    same = client.get("/api/runs/watch/report", headers={"If-None-Match": tag})
    assert same.status_code == 304 and same.text == "" and same.headers["etag"] == tag
    write_atomic(folder / "report.md", "# Market\nrefresh 2\n")
    fresh = client.get("/api/runs/watch/report", headers={"If-None-Match": tag})
    assert fresh.status_code == 200 and fresh.text.endswith("refresh 2\n")
    assert fresh.headers["etag"] != tag
    assert client.get("/api/runs/watch/report").text.endswith("refresh 2\n")
    assert client.get("/api/runs/nope/report").status_code == 404
    runs_list = {r["name"]: r for r in client.get("/api/runs").json()}
    assert runs_list["watch"]["report"] is True
    page = client.get("/reports/watch")
    assert page.status_code == 200 and "watch.js" in page.text
    assert client.get("/reports/nope").status_code == 404
