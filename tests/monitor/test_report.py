"""The monitor report on the real file, recomputed independently from the raw CSV.

The reference figures here use only the csv module and plain arithmetic on the file's own
columns (``timestamp``, ``price_high/low/close``, ``liquidation_long/short_usd``, ``oi_open``),
not the monitor code: 24 h = bars with start in ``(at - 24 h, at]``, the window = every bar up
to ``at``, open interest at each bar's open.
"""

from __future__ import annotations

import csv
import json
import math
import re
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from margincall.core.errors import InvalidInputError
from margincall.monitor.bars import load_sources
from margincall.monitor.prose import usd
from margincall.monitor.report import SECTIONS, markdown, write_monitor
from margincall.monitor.summary import build

AT = "2026-02-06T01:00:00Z"
AT_MS = int(datetime(2026, 2, 6, 1, tzinfo=UTC).timestamp() * 1000)
H24_MS = 24 * 3_600_000


def raw_rows(real_csv):
    with real_csv.open(newline="") as fh:
        return [r for r in csv.DictReader(fh) if int(r["timestamp"]) <= AT_MS]


@pytest.fixture(scope="module")
def real(real_csv, tmp_path_factory):
    out = tmp_path_factory.mktemp("mon") / "report"
    write_monitor(out, build([real_csv], at=AT))
    return out


def expected(real_csv):
    rows = raw_rows(real_csv)
    win = [r for r in rows if AT_MS - H24_MS < int(r["timestamp"]) <= AT_MS]
    long_usd = math.fsum(float(r["liquidation_long_usd"]) for r in win)
    short_usd = math.fsum(float(r["liquidation_short_usd"]) for r in win)
    low = min(rows, key=lambda r: float(r["price_low"]))
    high = max(rows, key=lambda r: float(r["price_high"]))
    last = rows[-1]
    before = [r for r in rows if int(r["timestamp"]) <= AT_MS - H24_MS][-1]
    return {
        "rows": rows,
        "win": win,
        "long": long_usd,
        "short": short_usd,
        "low": float(low["price_low"]),
        "low_ts": int(low["timestamp"]),
        "high": float(high["price_high"]),
        "high_ts": int(high["timestamp"]),
        "drawdown": float(last["price_close"]) / float(high["price_high"]) - 1.0,
        "oi_start": float(before["oi_open"]),
        "oi_end": float(last["oi_open"]),
    }


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_summary_states_the_files_own_figures(real, real_csv):
    e = expected(real_csv)
    s = json.loads((real / "summary.json").read_text())
    liq = s["liquidations_24h"]
    assert len(e["win"]) == 24 and liq["from"]["row_count"] == 24
    assert liq["long_usd"] == e["long"] and liq["short_usd"] == e["short"]  # exact
    assert s["price"]["window_low"] == e["low"] == 60_000.0
    assert s["price"]["window_low_at"]["ts"] == iso(e["low_ts"]) == "2026-02-06T00:00:00Z"
    assert s["drawdown"]["peak_price"] == e["high"]
    assert s["drawdown"]["peak_at"]["ts"] == iso(e["high_ts"])
    assert s["drawdown"]["pct"] == pytest.approx(e["drawdown"], abs=1e-15)
    oi = s["open_interest"]
    assert oi["start_usd"] == e["oi_start"] and oi["end_usd"] == e["oi_end"]
    assert oi["change_24h_usd"] == e["oi_end"] - e["oi_start"]
    assert oi["change_24h_pct"] == pytest.approx(e["oi_end"] / e["oi_start"] - 1, abs=1e-15)


def test_reports_state_the_same_figures(real, real_csv):
    e = expected(real_csv)
    md = (real / "report.md").read_text()
    page = (real / "report.html").read_text()
    for text in (md, page):
        assert f"{e['long']:,.2f} USD" in text and f"{e['short']:,.2f} USD" in text
        assert "60,000.00 USD at 2026-02-06 00:00 UTC" in text
        assert f"{e['drawdown']:+.2%}" in text and f"peak {e['high']:,.2f} USD" in text
        oi_line = f"{usd(e['oi_end'] - e['oi_start'])} ({e['oi_end'] / e['oi_start'] - 1:+.2%})"
        assert oi_line in text
        total = e["long"] + e["short"]
        assert f"longs took {e['long'] / total:.0%} of {usd(total)} liquidated" in text
    # self-contained: plotly.js inline, nothing fetched
    assert "plotly" in page.lower()
    assert not re.search(r"<script[^>]+src=", page)


def test_every_headline_figure_names_its_metrics_rows(real):
    s = json.loads((real / "summary.json").read_text())
    m = pl.read_parquet(real / "metrics.parquet")
    for col in ("ts", "close", "rsi_14", "macd", "macd_signal", "macd_hist", "cmf_20"):
        assert col in m.columns
    assert {"drawdown", "sentiment"} <= set(m.columns)
    assert m["cmf_20"].null_count() == m.height  # the panel has no volume
    assert m["ts"].max() == datetime(2026, 2, 6, 1, tzinfo=UTC)  # nothing after --at
    assert m["row"].to_list() == list(range(m.height))
    p = s["price"]
    assert m["low"][p["window_low_at"]["row"]] == p["window_low"]
    assert m["high"][p["window_high_at"]["row"]] == p["window_high"]
    assert m["close"][p["last_close_from"]["row"]] == p["last_close"]
    liq = s["liquidations_24h"]
    w = m.slice(liq["from"]["row_from"], liq["from"]["row_count"])
    assert math.fsum(w["liq_long_usd"].to_list()) == liq["long_usd"]
    big = liq["largest_hour"]
    assert big["from"]["row_count"] == 1  # hourly bars: the largest hour is one bar
    assert big["unit"] == "hour"
    assert m["liq_long_usd"][big["from"]["row_from"]] == big["long_usd"]
    assert m["ts"][big["from"]["row_from"]] == datetime.fromisoformat(big["ts"])
    oi = s["open_interest"]
    assert m["oi_usd"][oi["start_from"]["row"]] == oi["start_usd"]
    row = s["indicators"]["from"]["row"]
    assert m["rsi_14"][row] == s["indicators"]["rsi_14"]
    assert m["sentiment"][row] == s["sentiment"]["value"]
    assert m["drawdown"][row] == pytest.approx(s["drawdown"]["pct"], abs=1e-15)
    assert s["warnings"] and all(w["rows"] for w in s["warnings"] if w["kind"] == "gap")


def _implied_depth(path, at=datetime(2026, 2, 6, 1, tzinfo=UTC), beta=0.55, theta=0.3):
    """The largest D1 with Q (1 + theta Q / D1) = D1 (move / 1%)^beta over the hours up to
    ``at`` that moved at least 0.5% (longs: open to low; shorts: open to high), from the CSV."""
    best = 20e6
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            if datetime.fromtimestamp(int(r["timestamp"]) / 1000, UTC) > at:
                break
            o = float(r["price_open"])
            for move, q in (
                ((o - float(r["price_low"])) / o, float(r["liquidation_long_usd"])),
                ((float(r["price_high"]) - o) / o, float(r["liquidation_short_usd"])),
            ):
                if move >= 0.005 and q > 0:
                    x = (move / 0.01) ** beta
                    best = max(best, q * (1 + math.sqrt(1 + 4 * theta * x)) / (2 * x))
    return best


def test_what_to_watch_names_clusters_and_the_cascade(real, real_csv):
    s = json.loads((real / "summary.json").read_text())
    w = s["watch"]
    price = s["price"]["last_close"]
    assert w["price"] == price
    assert all(c["price_high"] <= price * 1.0000001 for c in w["clusters_below"])
    assert all(c["price_low"] >= price * 0.9999999 for c in w["clusters_above"])
    assert all(abs(c["distance_pct"]) <= 0.10 for c in w["clusters_below"] + w["clusters_above"])
    assert w["support"]["price"] == 60_000.0
    cas = w["cascade"]
    assert cas["shock_price"] == pytest.approx(60_000 * 0.99)
    assert cas["long_liquidated_usd"] >= cas["shock_alone_long_liquidated_usd"] > 0
    assert cas["impact"]["depth_1pct_usd"] == pytest.approx(_implied_depth(real_csv), rel=1e-12)
    assert cas["impact"]["depth_source"].startswith("implied by the data") and cas["assumptions"]
    md = (real / "report.md").read_text()
    assert [h[3:] for h in md.splitlines() if h.startswith("## ")] == list(SECTIONS)


def test_sources_merge_on_ts_first_source_wins(tmp_path):
    ts = [datetime(2026, 1, 1, h, tzinfo=UTC) for h in range(4)]
    a = pl.DataFrame({"ts": ts[:3], "close": [1.0, 2.0, 3.0], "oi_usd": [None, 5.0, None]})
    b = pl.DataFrame({"ts": ts[1:], "close": [20.0, 30.0, 40.0], "oi_usd": [50.0, 60.0, 70.0]})
    a.write_parquet(tmp_path / "a.parquet")
    b.write_parquet(tmp_path / "b.parquet")
    merged, info = load_sources([tmp_path / "a.parquet", tmp_path / "b.parquet"])
    assert merged["ts"].to_list() == ts
    assert merged["close"].to_list() == [1.0, 2.0, 3.0, 40.0]
    assert merged["oi_usd"].to_list() == [None, 5.0, 60.0, 70.0]
    assert [i["rows"] for i in info] == [3, 3]
    pl.concat([b, b]).write_parquet(tmp_path / "dup.parquet")
    with pytest.raises(InvalidInputError, match="duplicated timestamps"):
        load_sources([tmp_path / "a.parquet", tmp_path / "dup.parquet"])


def synthetic(n: int) -> pl.DataFrame:
    rng = np.random.default_rng(5)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    return pl.DataFrame(
        {
            "ts": [datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=h) for h in range(n)],
            "open": close,
            "high": close * 1.01,
            "low": close * 0.99,
            "close": close,
            "volume": rng.uniform(1, 2, n),
        }
    )


def test_without_derivatives_the_report_keeps_its_sections(tmp_path):
    synthetic(60).write_csv(tmp_path / "ohlcv.csv")
    r = build([tmp_path / "ohlcv.csv"])
    s = r.summary
    assert s["liquidations_24h"] is None and s["open_interest"] is None and s["watch"] is None
    assert r.metrics["cmf_20"].null_count() < r.metrics.height  # volume present -> CMF
    md = markdown(s)
    assert [h[3:] for h in md.splitlines() if h.startswith("## ")] == list(SECTIONS)
    assert "n/a (no open interest)" in md and "No liquidation map" in md
