"""Hourly liquidation forecasts: Spearman, the baseline, no look-ahead, calibration on the first
half, beating the baseline on the real file, and the `margincall forecast` command."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from margincall.cli import app
from margincall.core.errors import InvalidInputError
from margincall.estimate.forecast import (
    baseline,
    default_params,
    predict,
    run_forecast,
    spearman,
    write_forecast,
)
from margincall.sources.panel import read_panel

runner = CliRunner()


def synthetic(n: int = 400, seed: int = 5) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    open_ = np.concatenate(([100.0], close[:-1]))
    high = np.maximum(open_, close) * (1 + rng.exponential(0.004, n))
    low = np.minimum(open_, close) * (1 - rng.exponential(0.004, n))
    oi = 1e9 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    drop, rise = (open_ - low) / open_, (high - open_) / open_
    ts = pl.datetime_range(
        pl.datetime(2026, 1, 1, time_zone="UTC"),
        pl.datetime(2026, 1, 1, time_zone="UTC") + pl.duration(hours=n - 1),
        "1h",
        eager=True,
        time_zone="UTC",
    ).dt.cast_time_unit("us")
    return pl.DataFrame(
        {
            "ts": ts,
            "open": open_,
            "high": high,
            "low": low,
            "close": close,
            "oi_usd": oi,
            "funding": rng.normal(0.0001, 0.0001, n),
            "liq_long_usd": drop**2 * oi * rng.lognormal(0, 0.5, n),
            "liq_short_usd": rise**2 * oi * rng.lognormal(0, 0.5, n),
            "long_short_ratio": pl.Series([None] * n, dtype=pl.Float64),
        }
    )


def test_spearman_uses_average_ranks_for_ties():
    a = np.array([1.0, 2.0, 2.0, 3.0, 5.0])
    b = np.array([2.0, 1.0, 4.0, 3.0, 9.0])
    ra, rb = np.array([1, 2.5, 2.5, 4, 5]), np.array([2, 1, 4, 3, 5])
    assert spearman(a, b) == pytest.approx(np.corrcoef(ra, rb)[0, 1])
    assert spearman(a, -a) == pytest.approx(-1.0)
    assert spearman(np.ones(5), b) is None
    assert spearman(np.array([1.0, np.nan, 3.0, 4.0]), np.array([1.0, 2.0, 3.0, 5.0])) == 1.0


def test_baseline_is_the_move_times_open_interest():
    p = synthetic(10)
    bl, bs = baseline(p)
    o, lo, h, oi = (p[c].to_numpy() for c in ("open", "low", "high", "oi_usd"))
    assert np.allclose(bl, np.maximum(0, (o - lo) / o) * oi)
    assert np.allclose(bs, np.maximum(0, (h - o) / o) * oi)


def test_forecast_uses_no_future_rows():
    p = synthetic()
    k = 250
    rng = np.random.default_rng(9)
    later = pl.Series(np.arange(p.height) >= k)
    noisy = p.with_columns(
        *(
            pl.when(later).then(pl.col(c) * rng.uniform(0.5, 1.5, p.height)).otherwise(pl.col(c))
            for c in ("oi_usd", "liq_long_usd", "liq_short_usd", "funding")
        ),
        pl.when(later).then(pl.col("low") * 0.9).otherwise(pl.col("low")).alias("low"),
        pl.when(later).then(pl.col("high") * 1.1).otherwise(pl.col("high")).alias("high"),
    )
    params = default_params(spread=1.0, decay=0.01)
    a, b = predict(p, params), predict(noisy, params)
    for c in ("pred_liq_long_usd", "pred_liq_short_usd"):
        assert np.array_equal(a[c].to_numpy()[:k], b[c].to_numpy()[:k])
        assert not np.array_equal(a[c].to_numpy()[k:], b[c].to_numpy()[k:])


def test_calibration_sees_only_the_first_half():
    p = synthetic()
    half = p.height // 2
    later = pl.Series(np.arange(p.height) >= half)
    noisy = p.with_columns(
        pl.when(later).then(pl.col("liq_long_usd").reverse()).otherwise(pl.col("liq_long_usd"))
    )
    fa, sa = run_forecast(p)
    fb, sb = run_forecast(noisy)
    assert sa["parameters"] == sb["parameters"]
    assert fa["pred_liq_long_usd"].equals(fb["pred_liq_long_usd"])
    assert sa["spearman"]["first_half"] == sb["spearman"]["first_half"]


def test_forecast_is_deterministic():
    p = synthetic(200)
    assert run_forecast(p)[1] == run_forecast(p)[1]


def test_forecast_beats_the_baseline_on_the_real_file(real_csv):
    frame, summary = run_forecast(read_panel(real_csv), source=str(real_csv))
    assert frame.columns == [
        "ts",
        "pred_liq_long_usd",
        "pred_liq_short_usd",
        "liq_long_usd",
        "liq_short_usd",
    ]
    assert frame.height == 2078
    s = summary["spearman"]
    assert s["full"]["baseline"]["long"] == pytest.approx(0.75, abs=0.01)
    assert s["full"]["baseline"]["short"] == pytest.approx(0.71, abs=0.01)
    for side in ("long", "short"):
        assert s["full"]["model"][side] > s["full"]["baseline"][side]
        assert s["first_half"]["model"][side] > s["first_half"]["baseline"][side]
        assert s["second_half"]["model"][side] is not None  # reported, out of sample
    assert summary["parameters"]["map"]["weights"] and len(summary["gaps"]) == 4


def test_write_is_atomic_and_refuses_a_used_folder(tmp_path):
    frame, summary = run_forecast(synthetic(60))
    used = tmp_path / "used"
    used.mkdir()
    (used / "x").write_text("keep")
    with pytest.raises(InvalidInputError, match="new or empty"):
        write_forecast(used, frame, summary)
    with pytest.raises(TypeError):
        write_forecast(tmp_path / "bad", frame, summary | {"x": object()})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["used"]


def test_cli_writes_the_forecast_folder(tmp_path):
    data = tmp_path / "panel.parquet"
    synthetic(120).rename({"oi_usd": "open_interest_usd", "funding": "funding_rate"}).write_parquet(
        data
    )
    out = tmp_path / "fc"
    result = runner.invoke(app, ["forecast", "--from-data", str(data), "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert json.loads((out / "summary.json").read_text()) == summary
    frame = pl.read_parquet(out / "forecast.parquet")
    assert frame.height == 120 and "pred_liq_long_usd" in frame.columns


def test_cli_bad_input_exits_2_naming_the_value(tmp_path):
    bad = tmp_path / "bad.csv"
    pl.DataFrame({"ts": [1, 2], "open": [1.0, 2.0]}).write_csv(bad)
    result = runner.invoke(app, ["forecast", "--from-data", str(bad), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert "open_interest_usd" in result.output and "CoinGlass" in result.output
    assert not (tmp_path / "o").exists()
    result = runner.invoke(
        app, ["forecast", "--from-data", str(tmp_path / "none.csv"), "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 2 and "none.csv" in result.output


def test_the_same_forecast_writes_the_same_bytes(tmp_path):
    data = tmp_path / "panel.parquet"
    synthetic(120).rename({"oi_usd": "open_interest_usd", "funding": "funding_rate"}).write_parquet(
        data
    )
    for name in ("a", "b"):
        r = runner.invoke(
            app, ["forecast", "--from-data", str(data), "--out", str(tmp_path / name)]
        )
        assert r.exit_code == 0, r.output
    a, b = ({p.name: p.read_bytes() for p in (tmp_path / n).iterdir()} for n in ("a", "b"))
    assert sorted(a) == ["forecast.parquet", "summary.json"] and a == b
