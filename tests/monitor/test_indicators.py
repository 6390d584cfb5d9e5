"""Indicators: RSI, MACD and CMF against TA-Lib on the real hourly file, warm-up nulls, too-few
rows errors, drawdown, returns, volatility, liquidation and open-interest windows recomputed
independently."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from margincall.core.errors import InvalidInputError
from margincall.monitor import indicators as ind
from margincall.monitor.ingest import read_coinglass
from margincall.monitor.schema import conform

talib = pytest.importorskip("talib", reason="TA-Lib (the ta-lib wheel, a dev extra) not installed")

TOL = 1e-9


@pytest.fixture(scope="module")
def real(real_csv):
    return read_coinglass(real_csv)


def synthetic_volume(n: int) -> np.ndarray:
    """A deterministic, positive, irregular volume column (no meaning: the CoinGlass panel has
    no traded volume, so CMF is checked on the real OHLC with this volume)."""
    i = np.arange(n, dtype=np.float64)
    return 1_000.0 + 400.0 * np.sin(i / 7.0) + (i * 7919.0) % 613.0


def _agree(ours: np.ndarray, ref: np.ndarray, first: int) -> float:
    """Both are NaN exactly before ``first``; returns the max abs difference after."""
    assert np.isnan(ours[:first]).all()
    assert np.isnan(ref[:first]).all()
    assert np.isfinite(ours[first:]).all()
    assert np.isfinite(ref[first:]).all()
    return float(np.max(np.abs(ours[first:] - ref[first:])))


def test_rsi_matches_talib_on_real_closes(real):
    c = real["close"].to_numpy()
    diff = _agree(ind.rsi(c), talib.RSI(c, 14), ind.RSI_LOOKBACK)
    assert diff < TOL, diff


def test_macd_matches_talib_on_real_closes(real):
    c = real["close"].to_numpy()
    line, sig, hist = ind.macd(c)
    ref_line, ref_sig, ref_hist = talib.MACD(c, 12, 26, 9)
    first = ind.SIGNAL_LOOKBACK
    assert first == 33
    # our macd line is defined from row 25 (both EMAs seeded there); TA-Lib shows it from 33
    assert np.isnan(line[: ind.MACD_LOOKBACK]).all()
    assert np.isfinite(line[ind.MACD_LOOKBACK :]).all()
    assert float(np.max(np.abs(line[first:] - ref_line[first:]))) < TOL
    assert _agree(sig, ref_sig, first) < TOL
    assert _agree(hist, ref_hist, first) < TOL


def test_cmf_matches_talib_ad_and_sum_on_real_ohlc_with_synthetic_volume(real):
    """TA-Lib has no CMF; CMF(20) is (AD_t - AD_{t-20}) / SUM(volume, 20) with TA-Lib's
    accumulation/distribution line AD. Prices are the real file's; the volume is synthetic
    (deterministic) because the CoinGlass panel has none."""
    h, lo, c = (real[k].to_numpy() for k in ("high", "low", "close"))
    v = synthetic_volume(len(c))
    ad = talib.AD(h, lo, c, v)
    ref = np.full(len(c), np.nan)
    ref[19] = ad[19] / talib.SUM(v, 20)[19]
    ref[20:] = (ad[20:] - ad[:-20]) / talib.SUM(v, 20)[20:]
    diff = _agree(ind.cmf(h, lo, c, v), ref, ind.CMF_LOOKBACK)
    assert diff < TOL, diff
    frame = ind.compute_indicators(real.with_columns(pl.Series("volume", v)))
    assert frame["cmf_20"].null_count() == 19
    assert np.max(np.abs(frame["cmf_20"].to_numpy()[19:] - ref[19:])) < TOL


def test_compute_indicators_columns_and_warm_up(real):
    out = ind.compute_indicators(real)
    assert out["rsi_14"].null_count() == 14
    assert out["macd"].null_count() == 25
    assert out["macd_signal"].null_count() == 33
    assert out["macd_hist"].null_count() == 33
    assert out["cmf_20"].null_count() == out.height  # the panel has no volume
    assert out["rv_24"].null_count() == 24
    c, h = real["close"].to_numpy(), real["high"].to_numpy()
    peak = np.array([h[: i + 1].max() for i in range(len(h))])
    assert np.allclose(out["drawdown"].to_numpy(), c / peak - 1, rtol=0, atol=1e-15)
    assert out["drawdown"].max() <= 0
    lr = np.log(c[1:] / c[:-1])
    assert out["rv_24"][100] == pytest.approx(np.std(lr[76:100], ddof=1), rel=1e-12)
    # hourly bars: sqrt(8760)
    assert out["rv_24_annual"][100] == pytest.approx(out["rv_24"][100] * 8760**0.5, rel=1e-12)


def test_no_look_ahead(real):
    full = ind.compute_indicators(real)
    cut = ind.compute_indicators(real.head(500))
    cols = ["rsi_14", "macd", "macd_signal", "drawdown", "rv_24", "liq_imbalance"]
    assert cut.select(cols).equals(full.head(500).select(cols))


def test_liquidation_and_oi_windows_recomputed_from_the_raw_file(real_csv, real):
    raw = pl.read_csv(real_csv)
    at = datetime(2026, 2, 6, 1, tzinfo=UTC)
    at_ms = int(at.timestamp() * 1000)
    w = raw.filter((pl.col("timestamp") > at_ms - 86_400_000) & (pl.col("timestamp") <= at_ms))
    s = ind.liquidation_summary(real, 24, at)
    assert s["bars"] == w.height
    assert s["long_usd"] == pytest.approx(w["liquidation_long_usd"].sum(), rel=1e-12)
    assert s["short_usd"] == pytest.approx(w["liquidation_short_usd"].sum(), rel=1e-12)
    tot = w["liquidation_long_usd"] + w["liquidation_short_usd"]
    assert s["largest"]["total_usd"] == pytest.approx(tot.max(), rel=1e-12)
    big = w["timestamp"][int(tot.arg_max())]
    assert s["largest"]["ts"] == datetime.fromtimestamp(big / 1000, UTC)
    assert s["imbalance"] == pytest.approx(
        (s["long_usd"] - s["short_usd"]) / (s["long_usd"] + s["short_usd"])
    )
    oi = ind.oi_change(real, 24, at)
    assert oi["start_usd"] == w["oi_open"][0]
    assert oi["end_usd"] == w["oi_open"][-1]
    assert oi["change_pct"] == pytest.approx(w["oi_open"][-1] / w["oi_open"][0] - 1)


def small(n: int, volume: bool = True) -> pl.DataFrame:
    ts = [datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=i) for i in range(n)]
    p = 100.0 + np.sin(np.arange(n))
    cols = {"ts": ts, "open": p, "high": p + 1, "low": p - 1, "close": p}
    if volume:
        cols["volume"] = np.ones(n)
    return conform(pl.DataFrame(cols), "test")


def test_too_few_rows_say_how_many_are_needed():
    with pytest.raises(InvalidInputError, match="at least 34 rows"):
        ind.compute_indicators(small(33))
    with pytest.raises(InvalidInputError, match="at least 15 rows"):
        ind.rsi(np.ones(14))
    with pytest.raises(InvalidInputError, match="at least 34 rows"):
        ind.macd(np.ones(30))
    with pytest.raises(InvalidInputError, match="at least 20 rows"):
        ind.cmf(*(np.ones(19),) * 4)
    assert ind.compute_indicators(small(34))["macd_signal"].null_count() == 33


def test_null_close_is_named():
    frame = small(40).with_columns(
        pl.when(pl.int_range(40) == 7).then(None).otherwise(pl.col("close")).alias("close")
    )
    with pytest.raises(InvalidInputError, match="row 7"):
        ind.compute_indicators(frame)


def test_rsi_extremes_and_flat():
    assert ind.rsi(np.arange(30.0))[-1] == 100.0
    assert ind.rsi(np.arange(30.0)[::-1])[-1] == 0.0
    assert ind.rsi(np.ones(30))[-1] == 0.0  # TA-Lib's value for no movement


def test_cmf_null_without_volume_and_sign_with_it():
    assert ind.compute_indicators(small(40, volume=False))["cmf_20"].null_count() == 40
    n = 40
    frame = small(n).with_columns(pl.col("high").alias("close"))  # every close at the high
    assert ind.compute_indicators(frame)["cmf_20"][-1] == pytest.approx(1.0)
