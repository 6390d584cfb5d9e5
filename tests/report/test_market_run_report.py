"""The report.html of a market run folder: its headline and tables are the summary's figures,
its figure shows each (venue, instrument)'s candles, and text from the files stays text."""

from __future__ import annotations

import html
import json

import numpy as np
import polars as pl

from margincall.report.figures import usd_text as usd
from margincall.report.market import (
    TRACES_PER_PAIR,
    market_headline,
    market_pairs,
    pair_figure,
    write_market_report_html,
)


def test_the_market_run_folder_holds_its_report(market_run):
    page = (market_run / "report.html").read_text()
    s = json.loads((market_run / "summary.json").read_text())
    m = s["market"]
    head = market_headline(s)
    assert html.escape(head) in page
    big = m["largest_liquidation"]
    assert big["usd"] > 0
    for figure in (
        usd(m["liquidated_usd"]), usd(m["long_usd"]), usd(m["short_usd"]),
        f"{m['traders_liquidated']:,} traders", f"{usd(big['usd'])} ({big['symbol']} on {big['venue']})",
    ):  # fmt: skip
        assert figure in head, (figure, head)
    for venue, v in s["by_venue"].items():
        assert f"<td>{venue}</td><td>{v['rulebook']}</td>" in page
        assert f"<td>{usd(v['fund_used_usd'])}</td>" in page
    for sym, a in s["by_asset"].items():
        assert f"<td>{sym}</td><td>{usd(a['long_usd'])}</td>" in page
        gap = a["gap_between_venues"]
        assert f"<td>{sym}</td><td>2</td><td>{gap['max_pct']:+.3f}%</td>" in page
    assert "<script src=" not in page  # plotly.js embedded: opens offline


def test_the_figure_shows_each_pairs_candles_one_pair_at_a_time(market_run):
    bars = pl.read_parquet(market_run / "candles.parquet")
    s = json.loads((market_run / "summary.json").read_text())
    pairs = market_pairs(bars, s)
    assert pairs == [("cex", "BTCUSDT"), ("cex", "ETHUSDT"), ("dex", "BTCUSDT"), ("dex", "ETHUSDT")]
    fig = pair_figure(bars, pairs, "t")
    assert len(fig.data) == TRACES_PER_PAIR * len(pairs)
    for i, (venue, sym) in enumerate(pairs):
        rows = bars.filter((pl.col("venue") == venue) & (pl.col("symbol") == sym)).sort("ts")
        close = fig.data[i * TRACES_PER_PAIR + 2]
        np.testing.assert_array_equal(np.asarray(close.y), rows["close"].to_numpy())
        long = fig.data[i * TRACES_PER_PAIR + 3]
        np.testing.assert_array_equal(-np.asarray(long.y), rows["liq_long_usd"].to_numpy())
        shown = fig.layout.updatemenus[0].buttons[i].args[0]["visible"]
        assert [t for t, v in enumerate(shown) if v] == list(
            range(i * TRACES_PER_PAIR, (i + 1) * TRACES_PER_PAIR)
        )
        assert fig.layout.updatemenus[0].buttons[i].label == f"{venue} · {sym}"
    assert [bool(t.visible) for t in fig.data[:TRACES_PER_PAIR]] == [True] * TRACES_PER_PAIR
    assert not any(t.visible for t in fig.data[TRACES_PER_PAIR:])


def test_names_from_the_files_are_text_not_markup(market_run, tmp_path):
    bad = "<img src=x onerror=alert(1)>"
    s = json.loads((market_run / "summary.json").read_text())
    s["by_venue"] = {bad: s["by_venue"]["cex"]}
    s["market"]["largest_liquidation"]["venue"] = bad
    bars = pl.read_parquet(market_run / "candles.parquet").with_columns(
        venue=pl.when(pl.col("venue") == "cex").then(pl.lit(bad)).otherwise(pl.col("venue"))
    )
    page = write_market_report_html(tmp_path / "r.html", bars, s, "<b>title</b>").read_text()
    assert bad not in page and "<b>title</b>" not in page
    assert html.escape(bad) in page
