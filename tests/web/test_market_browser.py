"""A market run's replay in a real browser (Chromium under Playwright, as test_browser.py): the
venue and asset selectors switch the replayed pair, whose prices are its candle rows."""

from __future__ import annotations

import shutil

import polars as pl
import pytest

MARKET = "market-run"


@pytest.fixture
def market_page(runs_dir, market_run, page_on):
    """``page_on``'s page, the market run in its runs folder (listed when the page loads)."""
    shutil.copytree(market_run, runs_dir / MARKET)
    return page_on


def last_close(folder, venue: str, symbol: str) -> float:
    bars = pl.read_parquet(folder / "candles.parquet").filter(
        (pl.col("venue") == venue) & (pl.col("symbol") == symbol)
    )
    return bars.sort("ts")["close"][-1]


def test_the_selectors_switch_the_replayed_pair(market_page, market_run):
    page = market_page
    page.goto(page.server.url + "/")
    page.wait_for_selector("body[data-ready='1']", timeout=30_000)
    row = page.locator(f"#runs tr[data-run='{MARKET}']")
    assert "(market: cex, dex)" in row.inner_text()
    page.goto(page.server.url + f"/runs/{MARKET}")
    page.wait_for_selector("body[data-ready='1']", timeout=30_000)
    assert page.locator("#error").inner_text() == ""
    assert page.locator("#pair").is_visible()
    assert page.locator("#venue option").all_inner_texts() == ["cex", "dex"]
    assert page.locator("#asset").input_value() == "BTCUSDT"
    assert page.locator("#chart").get_attribute("data-pair") == "cex/BTCUSDT"
    assert "liquidated (market)" in page.locator("#summary").inner_text()
    page.select_option("#venue", "dex")
    page.wait_for_function("() => document.getElementById('chart').dataset.pair === 'dex/BTCUSDT'")
    page.select_option("#asset", "ETHUSDT")
    page.wait_for_function("() => document.getElementById('chart').dataset.pair === 'dex/ETHUSDT'")
    bars = int(page.locator("#slider").get_attribute("max")) + 1
    assert bars == 60
    page.locator("#slider").fill(str(bars - 1))
    page.wait_for_function(f"() => document.getElementById('chart').dataset.frame === '{bars - 1}'")
    shown = page.evaluate("() => { const y = document.getElementById('chart').data[0].y; "
                          "return y[y.length - 1]; }")  # fmt: skip
    assert shown == last_close(market_run, "dex", "ETHUSDT")
    assert page.external == [], page.external
    assert page.errors == [], page.errors
