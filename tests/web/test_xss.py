"""Stored script in a run's files never runs: the pages put every value in as text, and the
server's Content-Security-Policy forbids inline script. A run folder whose summary.json and
candles.parquet hold script payloads is opened in Chromium on every page that shows it."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import polars as pl
import pytest
from dashboard_helpers import LOCAL, RUN_NAME
from fastapi.testclient import TestClient

from margincall.web.app import STATIC, create_app

EVIL = "evil-run"


def payload(tag: str) -> str:
    """Markup that, parsed as HTML, sets ``window.__pwned`` and opens an alert."""
    return f"<img src=x onerror=\"window.__pwned='{tag}';alert('{tag}')\">"


SCRIPT = "<script>window.__pwned='script';alert('script')</script>"
SUMMARY_TEXT = {  # summary.json field -> payload, each shown by a page
    "scenario": payload("scenario"),
    "rulebook": SCRIPT,
    "hours": payload("hours"),
    "wall_seconds": payload("wall"),
}


@pytest.fixture
def evil_runs(runs_dir) -> Path:
    """``runs_dir`` with a copy of the real run whose files hold payloads."""
    folder = runs_dir / EVIL
    shutil.copytree(runs_dir / RUN_NAME, folder)
    summary = json.loads((folder / "summary.json").read_text())
    summary.update(SUMMARY_TEXT)
    summary["liquidations"]["long_usd"] = payload("long")
    summary["adl"] = {"events": payload("adl"), "notional_usd": SCRIPT}
    (folder / "summary.json").write_text(json.dumps(summary))
    bars = pl.read_parquet(folder / "candles.parquet")
    bars = bars.with_columns(
        pl.lit(payload("depth")).alias("depth_1pct_usd"),
        pl.lit(SCRIPT).alias("open_interest_usd"),
    )
    bars.write_parquet(folder / "candles.parquet")
    return runs_dir


def test_no_page_script_builds_html_from_strings():
    """Static check of every page script: nothing is parsed as HTML."""
    sinks = re.compile(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|\.html\(|eval\(")
    found = {
        f"{js.name}:{n}": line.strip()
        for js in sorted(STATIC.glob("*.js"))
        for n, line in enumerate(js.read_text().splitlines(), 1)
        if sinks.search(line)
    }
    assert found == {}


def test_series_of_text_cells_are_null(evil_runs):
    with TestClient(create_app(evil_runs), base_url=LOCAL) as client:
        series = client.get(f"/api/runs/{EVIL}/series").json()
    assert series["bars"] > 60
    assert set(series["depth_1pct_usd"]) == {None} == set(series["open_interest_usd"])
    assert all(isinstance(x, float) for x in series["close"])


def test_payloads_in_a_run_are_shown_as_text_and_never_run(browser, evil_runs):
    from dashboard_helpers import LiveServer, open_page

    app = create_app(evil_runs, max_sims=0)
    with LiveServer(app) as server:
        page = open_page(browser, server)
        dialogs = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(server.url + "/")
        page.wait_for_selector("body[data-ready='1']", timeout=30_000)
        page.wait_for_timeout(300)  # an image's error event would have fired by now
        assert page.evaluate("() => window.__pwned") is None
        row = page.locator(f"#runs tr[data-run='{EVIL}']").inner_text()
        assert SUMMARY_TEXT["scenario"] in row and SUMMARY_TEXT["hours"] in row
        page.click(f"#runs tr[data-run='{EVIL}'] a")
        page.wait_for_selector("body[data-ready='1']", timeout=30_000)
        page.wait_for_timeout(300)
        assert page.evaluate("() => window.__pwned") is None
        assert page.locator("#error").inner_text() == ""
        title = page.locator("#title").inner_text()
        assert SUMMARY_TEXT["scenario"] in title and SCRIPT in title
        summary = page.locator("#summary").inner_text()
        assert f"{SUMMARY_TEXT['wall_seconds']} s" in summary
        assert page.locator("#summary img, #title img, #runs img, script:not([src])").count() == 0
        page.locator("#slider").fill("30")
        page.wait_for_function("() => document.getElementById('chart').dataset.frame === '30'")
        page.goto(f"{server.url}/stress?run={EVIL}")
        page.wait_for_selector("#shock[data-shown]", timeout=60_000)
        page.wait_for_timeout(300)
        assert page.evaluate("() => window.__pwned") is None
        assert dialogs == []
        assert page.errors == [], page.errors  # no script error and nothing the policy blocked
        assert page.external == []
        page.context.close()


def test_a_watched_report_page_shows_markup_from_a_data_file_as_text_and_follows_rewrites(
    browser, tmp_path
):
    """A monitor folder written from a flows table whose fund column is named with markup: the
    report page shows its report.md as text (the markup visible, never parsed), then shows the
    rewritten report after watch mode replaces the file."""
    import csv

    from dashboard_helpers import LiveServer, open_page
    from typer.testing import CliRunner

    from margincall.cli import app as cli
    from margincall.core.atomic import write_atomic

    fund = payload("fund")
    flows = tmp_path / "btc_flows.csv"
    rows = [["date", "IBIT", fund, "Total"], ["2026-02-04", "-373.4", "-86.4", "-459.8"]]
    with open(flows, "w", newline="") as handle:
        csv.writer(handle).writerows(rows)
    runs = tmp_path / "runs"
    runs.mkdir()

    def monitor(out):
        res = CliRunner().invoke(cli, ["monitor", "--etf-flows", str(flows), "--out", str(out)])
        assert res.exit_code == 0, res.output
        return (out / "report.md").read_text()

    first = monitor(runs / "watch")
    assert "<img src=x" in first
    with LiveServer(create_app(runs, max_sims=0)) as server:
        page = open_page(browser, server)
        dialogs = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(server.url + "/reports/watch?every=1")
        page.wait_for_selector("body[data-ready='1'][data-versions='1']", timeout=30_000)
        page.wait_for_timeout(300)  # an image's error event would have fired by now
        shown = page.locator("#report").inner_text()
        assert "<img src=x onerror=" in shown and "2026-02-04" in shown
        assert page.locator("#report").evaluate("e => e.textContent") == first
        assert page.locator("#report *, img, script:not([src])").count() == 0
        with open(flows, "a", newline="") as handle:
            csv.writer(handle).writerow(["2026-02-05", "-175.3", "-109.5", "-284.8"])
        second = monitor(tmp_path / "next")
        assert "2026-02-05" in second and second != first
        write_atomic(runs / "watch" / "report.md", second)  # as watch mode replaces it
        page.wait_for_selector("body[data-versions='2']", timeout=15_000)
        assert page.locator("#report").evaluate("e => e.textContent") == second
        page.wait_for_timeout(2_500)  # two more checks answered 304: still version 2
        assert page.evaluate("document.body.dataset.versions") == "2"
        assert "unchanged" in page.locator("#status").inner_text()
        assert page.evaluate("() => window.__pwned") is None and dialogs == []
        assert page.errors == [] and page.external == []
        page.context.close()
