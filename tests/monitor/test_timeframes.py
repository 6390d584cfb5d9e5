"""Timeframes: bars resampled by the documented rules (hand-checked), the last incomplete bar
marked, indicators on every timeframe against TA-Lib (1e-9), the Assets section's 4-hour RSI and
MACD histogram, and ``monitor --timeframe``."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from margincall.cli import app
from margincall.core.errors import InvalidInputError
from margincall.monitor import indicators as ind
from margincall.monitor.assets import four_hour
from margincall.monitor.ingest import read_coinglass
from margincall.monitor.resample import resample
from margincall.monitor.schema import conform

talib = pytest.importorskip("talib", reason="TA-Lib (the ta-lib wheel, a dev extra) not installed")

TOL = 1e-9
T0 = datetime(2026, 2, 5, tzinfo=UTC)


def hourly(n: int, start: datetime = T0) -> pl.DataFrame:
    i = np.arange(n, dtype=np.float64)
    return conform(
        pl.DataFrame(
            {
                "ts": [start + timedelta(hours=k) for k in range(n)],
                "open": 100 + i,
                "high": 110 + i,
                "low": 90 - i,
                "close": 101 + i,
                "volume": 1 + i,
                "liq_long_usd": [None if k == 4 else 10.0 * k for k in range(n)],
                "oi_usd": [None if k == 3 else 1000.0 + k for k in range(n)],
            }
        ),
        "test",
    )


def test_resample_rules_by_hand():
    out = resample(hourly(6), "4h")  # 00:00-03:00 complete, 04:00-05:00 incomplete
    assert out["ts"].to_list() == [T0, T0 + timedelta(hours=4)]
    assert out["open"].to_list() == [100, 104]
    assert out["high"].to_list() == [113, 115]
    assert out["low"].to_list() == [87, 85]
    assert out["close"].to_list() == [104, 106]
    assert out["volume"].to_list() == [1 + 2 + 3 + 4, 5 + 6]
    assert out["liq_long_usd"].to_list() == [0 + 10 + 20 + 30, 50]  # the null counts as none
    assert out["oi_usd"].to_list() == [1002, 1005]  # last non-null: row 3 is null
    assert out["liq_short_usd"].to_list() == [None, None]  # every bar null: null, not 0
    assert out["complete"].to_list() == [True, False]
    assert resample(hourly(8), "4h")["complete"].to_list() == [True, True]
    day = resample(hourly(30, T0 + timedelta(hours=20)), "1d")  # 20:00 starts a day's tail
    assert day["ts"].to_list() == [T0, T0 + timedelta(days=1), T0 + timedelta(days=2)]
    assert day["complete"].to_list() == [True, True, False]
    assert resample(hourly(6), "1h").drop("complete").equals(hourly(6))


def test_a_coarser_source_or_unknown_timeframe_is_refused():
    daily = resample(hourly(72), "1d").drop("complete")
    with pytest.raises(InvalidInputError, match=r"--timeframe='4h'.*1-day bars"):
        resample(daily, "4h")
    with pytest.raises(InvalidInputError, match="--timeframe='2h'"):
        resample(hourly(6), "2h")


@pytest.fixture(scope="module")
def real(real_csv):
    return read_coinglass(real_csv)


@pytest.mark.parametrize("tf", ["1h", "4h", "1d"])
def test_indicators_on_every_timeframe_agree_with_talib(real, tf):
    bars = resample(real, tf)
    c, h, lo = (bars[k].to_numpy() for k in ("close", "high", "low"))
    assert len(c) > 40
    r = ind.rsi(c)
    assert np.max(np.abs(r[14:] - talib.RSI(c, 14)[14:])) < TOL
    line, sig, hist = ind.macd(c)
    ref = talib.MACD(c, 12, 26, 9)
    for ours, theirs in zip((line, sig, hist), ref, strict=True):
        assert np.max(np.abs(ours[33:] - theirs[33:])) < TOL
    v = 1_000.0 + 400.0 * np.sin(np.arange(len(c)) / 7.0)  # the panel has no volume
    ad, total = talib.AD(h, lo, c, v), talib.SUM(v, 20)
    want = (ad[20:] - ad[:-20]) / total[20:]
    assert np.max(np.abs(ind.cmf(h, lo, c, v)[20:] - want)) < TOL


def test_assets_four_hour_rsi_and_macd_from_hourly_bars(real):
    day = date(2026, 2, 5)
    got = four_hour(real, day)
    end = datetime(2026, 2, 6, tzinfo=UTC)
    full = resample(real.filter(pl.col("ts") < end), "4h")
    assert full["complete"].all()
    c = full["close"].to_numpy()
    assert got["rsi_14_4h"] == pytest.approx(talib.RSI(c, 14)[-1], abs=TOL)
    assert got["macd_hist_4h"] == pytest.approx(talib.MACD(c, 12, 26, 9)[2][-1], abs=TOL)
    assert got["intraday_4h"] == {"bars": len(c), "last": "2026-02-05T20:00:00Z"}
    # an incomplete last 4-hour bar is left out
    cut = four_hour(real.filter(pl.col("ts") < end - timedelta(hours=2)), day)
    assert cut["intraday_4h"]["last"] == "2026-02-05T16:00:00Z"
    assert four_hour(None, day)["rsi_14_4h"] is None


def test_monitor_timeframe_4h_writes_4h_bars_and_marks_the_last_incomplete(real_csv, tmp_path):
    out = tmp_path / "r"
    args = ["monitor", str(real_csv), "--out", str(out), "--timeframe", "4h"]
    res = CliRunner().invoke(app, [*args, "--at", "2026-02-06T01:00:00Z"])
    assert res.exit_code == 0, res.output
    m = pl.read_parquet(out / "metrics.parquet")
    assert set(m["ts"].diff().drop_nulls().unique().to_list()) <= {
        timedelta(hours=4),
        timedelta(hours=8),  # the panel's gaps
    }
    assert m["complete"].to_list()[-1] is False and m["complete"].to_list()[:-1] == [True] * (
        m.height - 1
    )
    s = json.loads((out / "summary.json").read_text())
    assert s["timeframe"] == {"bars": "4h", "last_bar_complete": False}
    assert s["liquidations_24h"]["largest_hour"]["unit"] == "4-hour bar"  # not "hour"
    assert "The largest 4-hour bar was" in (out / "report.md").read_text()
    assert s["at"] == "2026-02-06T00:00:00Z"
    assert any(w["kind"] == "incomplete_bar" for w in s["warnings"])
    assert m["rsi_14"].to_numpy()[-1] == pytest.approx(
        talib.RSI(m["close"].to_numpy(), 14)[-1], abs=TOL
    )
