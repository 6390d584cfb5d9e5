"""The sentiment index: 0-100, causal, components documented, and its daily values rank-correlate
with the alternative.me Fear & Greed index on the real hourly panel (full period and each half)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from margincall.estimate.forecast import spearman
from margincall.monitor.ingest import read_coinglass
from margincall.monitor.schema import conform
from margincall.monitor.sentiment import WEIGHTS, sentiment, sentiment_daily


@pytest.fixture(scope="module")
def real(real_csv):
    return read_coinglass(real_csv)


def joined(real, fear_greed_csv):
    fg = pl.read_csv(fear_greed_csv, try_parse_dates=True)
    return sentiment_daily(real).join(fg, on="date").drop_nulls("sentiment")


def test_daily_sentiment_rank_correlates_with_fear_and_greed(real, fear_greed_csv):
    """Spearman >= 0.5 on all the dates both have, and on each half separately (the weights are
    equal, not fitted, so neither half is a training set)."""
    j = joined(real, fear_greed_csv)
    x, y = j["sentiment"].to_numpy(), j["value"].to_numpy().astype(float)
    assert len(x) >= 80  # 2025-12-05 .. 2026-02-28
    half = len(x) // 2
    full = spearman(x, y)
    first, second = spearman(x[:half], y[:half]), spearman(x[half:], y[half:])
    print(f"Spearman full {full:.3f}, first half {first:.3f}, second half {second:.3f}")
    assert full >= 0.5
    assert first >= 0.5
    assert second >= 0.5


def test_index_in_range_and_weights_sum_to_one(real):
    s = sentiment(real)
    assert abs(sum(WEIGHTS.values()) - 1.0) < 1e-12
    v = s["sentiment"].drop_nulls()
    assert v.len() == real.height - 24  # null until 24 returns exist
    assert v.min() >= 0 and v.max() <= 100
    for name in WEIGHTS:
        col = s[f"s_{name}"].drop_nulls()
        assert col.len() > 0
        assert col.min() >= 0 and col.max() <= 100


def test_no_look_ahead(real):
    cut = datetime(2026, 2, 5, 12, tzinfo=UTC)
    early = sentiment(real.filter(pl.col("ts") <= cut))
    full = sentiment(real).filter(pl.col("ts") <= cut)
    assert early.equals(full)
    day = sentiment_daily(real.filter(pl.col("ts") < datetime(2026, 2, 6, tzinfo=UTC)))
    assert (
        day["sentiment"][-1]
        == sentiment_daily(real).filter(pl.col("date") == datetime(2026, 2, 5).date())["sentiment"][
            0
        ]
    )


def test_crash_day_is_fearful(real):
    d = sentiment_daily(real)
    crash = d.filter(pl.col("date") == datetime(2026, 2, 5).date())["sentiment"][0]
    assert crash < 25
    assert crash < d["sentiment"].median()


def bars(n: int, drift: float, volume: bool) -> pl.DataFrame:
    ts = [datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=i) for i in range(n)]
    rng = np.random.default_rng(7)
    c = 100.0 * np.exp(np.cumsum(drift + 0.002 * rng.standard_normal(n)))
    cols = {"ts": ts, "open": c, "high": c * 1.001, "low": c * 0.999, "close": c}
    if volume:
        cols["volume"] = np.full(n, 10.0)
    return conform(pl.DataFrame(cols), "test")


def test_missing_components_are_left_out_and_rally_beats_selloff():
    up, down = bars(300, 0.001, False), bars(300, -0.001, False)
    su, sd = sentiment(up), sentiment(down)
    assert su["s_liquidations"].null_count() == 300
    assert su["s_funding"].null_count() == 300
    last_up, last_down = su["sentiment"][-1], sd["sentiment"][-1]
    expected = np.mean([su[f"s_{k}"][-1] for k in ("volatility", "momentum", "drawdown")])
    assert last_up == pytest.approx(expected)
    assert last_up > 60 > 40 > last_down


def test_volume_enters_momentum():
    with_v, without = sentiment(bars(100, 0.001, True)), sentiment(bars(100, 0.001, False))
    assert not np.allclose(
        with_v["s_momentum"].drop_nulls().to_numpy(), without["s_momentum"].drop_nulls().to_numpy()
    )
