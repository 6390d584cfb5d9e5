"""What to watch, more levels: swing lows by hand; on the real panel with the shared ETF flows
and closes, the ETF cost basis and the swing lows each with the cascade of the monitor's own
estimate (the support's cascade is reproduced through the same path)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from margincall.cli import app
from margincall.monitor import levels as lv
from margincall.monitor.watch import BREAK_PCT


def frame(lows: list[float]) -> pl.DataFrame:
    t0 = datetime(2026, 2, 1, tzinfo=UTC)
    return pl.DataFrame(
        {
            "row": list(range(len(lows))),
            "ts": [t0 + timedelta(hours=i) for i in range(len(lows))],
            "low": lows,
        }
    )


def test_swing_lows_by_hand():
    k = lv.SWING_BARS  # swing lows more than k bars apart
    lows = [100.0] * (6 * k)
    lows[k] = 90.0  # a swing low
    lows[2 * k + 2] = 95.0  # a nearer one
    lows[3 * k + 5] = 97.0
    lows[4 * k + 7] = 99.0  # a fourth: only the three nearest are kept
    lows[6 * k - 3] = 80.0  # in the last k bars: not confirmed yet
    got = lv.swing_lows(frame(lows), price=99.5)
    assert [(g["price"], g["row"]) for g in got] == [
        (99.0, 4 * k + 7),
        (97.0, 3 * k + 5),
        (95.0, 2 * k + 2),
    ]
    assert [g["price"] for g in lv.swing_lows(frame(lows), price=96.0)] == [95.0, 90.0]
    flat = lv.swing_lows(frame([100.0] * (3 * k)), price=101.0)
    assert [g["row"] for g in flat] == [k]  # one per price


def test_levels_on_the_real_panel(real_csv, shared_data, tmp_path):
    flows = sorted(shared_data.glob("farside_btc_etf_flows_daily_*.csv"))
    closes = sorted(shared_data.glob("coinbase_btc_usd_daily_close_*.csv"))
    if not flows or not closes:
        pytest.skip("the shared ETF flows or BTC closes are missing")
    out = tmp_path / "r"
    args = ["monitor", str(real_csv), "--out", str(out), "--at", "2026-02-20T12:00:00Z"]
    args += ["--etf-flows", f"BTC={flows[0]}", "--closes", f"BTC={closes[0]}"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    s = json.loads((out / "summary.json").read_text())
    w = s["watch"]
    price = w["price"]
    levels = w["levels"]
    etf = levels[0]
    assert etf["kind"] == "BTC ETF cost basis (flow-weighted)"
    assert etf["price"] == s["daily"]["etf_flows"]["BTC"]["holdings"]["cost_basis"]
    assert etf["price"] > price and etf["cascade"]["side"] == "short"
    swings = levels[1:]
    assert 1 <= len(swings) <= lv.MAX_SWINGS
    m = pl.read_parquet(out / "metrics.parquet")
    lows = m["low"].to_numpy()
    k = lv.SWING_BARS
    for sw in swings:
        i = sw["row"]
        assert sw["price"] == lows[i] == np.nanmin(lows[i - k : i + k + 1]) < price
        c = sw["cascade"]
        assert c["side"] == "long"
        assert c["shock_price"] == pytest.approx(sw["price"] * (1 - BREAK_PCT), rel=1e-12)
        assert c["final_price"] <= c["shock_price"] + 1e-6 and c["liquidated_usd"] > 0
    assert [sw["price"] for sw in swings] == sorted((sw["price"] for sw in swings), reverse=True)
    md = (out / "report.md").read_text()
    assert md.count("- Level: ") == len(levels)


def test_a_level_breaks_through_the_supports_own_estimate(real_csv, tmp_path):
    """The support's cascade of What to watch, recomputed by the levels' path: the same."""
    from margincall.estimate.market_map import build_levels, map_at
    from margincall.monitor.summary import build
    from margincall.monitor.watch import panel_for_map

    result = build([real_csv], at="2026-02-06T01:00:00Z")
    w = result.summary["watch"]
    lmap = map_at(build_levels(panel_for_map(result.metrics)), None)
    again = lv._break(lmap, result.metrics, w["support"]["price"], w["price"])
    assert again["shock"] == pytest.approx(w["cascade"]["shock"], rel=1e-12)
    assert again["final_price"] == w["cascade"]["final_price"]
    assert again["liquidated_usd"] == w["cascade"]["long_liquidated_usd"]
