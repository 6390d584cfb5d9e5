"""A market sentiment index, 0 (extreme fear) to 100 (extreme greed), from market data alone.

The index is computed per bar from the bars up to and including that bar (causal rolling
windows, no look-ahead), then aggregated per UTC day as the value at the day's last bar (the
sentiment "at the close" of the day). It is compared in the tests with the alternative.me Crypto
Fear & Greed index, which is built from volatility, momentum and volume, social media, surveys,
dominance and search trends; only the market-data parts have a counterpart here.

Components (each a score in [0, 100], higher = greedier), with windows in bars (hours for
hourly data; :data:`WINDOW_LONG` = 720 bars = 30 days, :data:`WINDOW_WEEK` = 168 bars):

============ ====== ==============================================================================
component    weight transform
============ ====== ==============================================================================
volatility   0.2    ``100 * (1 - rv / 1.0)`` clipped to [0, 100], rv = annualised realised
                    volatility of the last 24 log returns (calm 0% -> 100, 100% a year -> 0)
momentum     0.2    ``50 + 50 * tanh(dev / 0.10)``, dev = close / (mean close over the last 720
                    bars) - 1 (10% above the 30-day mean -> 88); when volume is present it is
                    averaged with ``100 * up-bar volume / volume`` over the last 24 bars
liquidations 0.2    ``100 * short / (long + short)`` liquidations over the last 168 bars (shorts
                    squeezed -> greed, longs flushed -> fear); 50 when none
funding      0.2    ``50 + 50 * tanh(f / 0.0001)``, f = mean funding (per 8 h) over the last 72
                    bars (0 -> 50; +0.01% per 8 h, longs paying, -> 88)
drawdown     0.2    ``100 * (1 + dd / 0.25)`` clipped to [0, 100], dd = close / (highest high in
                    the last 720 bars) - 1 (at the high -> 100, 25% below -> 0)
============ ====== ==============================================================================

The weights are equal: there is no fit, and no component is preferred a priori. The scales
(100% volatility, 10% from the mean, 0.01% funding, 25% drawdown) are round numbers of the size
traders quote, fixed by hand; they were chosen after looking at the Dec 2025 - Feb 2026 data
(every transform is monotone, so each component's rank correlation with the reference does not
depend on its scale, only the composite's does). Early bars use shorter windows (at least
:data:`MIN_BARS` bars). A component without data (e.g. no liquidations or funding in the source)
is left out and the other weights renormalised; the index is null until the volatility component
has its 24 returns.
"""

from __future__ import annotations

import numpy as np
import polars as pl

WEIGHTS: dict[str, float] = {
    "volatility": 0.2,
    "momentum": 0.2,
    "liquidations": 0.2,
    "funding": 0.2,
    "drawdown": 0.2,
}
"""Weight of each component in :func:`sentiment`."""

WINDOW_LONG = 720
WINDOW_WEEK = 168
WINDOW_FUNDING = 72
WINDOW_VOL = 24
MIN_BARS = 24

VOL_SCALE = 1.0
MOMENTUM_SCALE = 0.10
FUNDING_SCALE = 0.0001
DRAWDOWN_SCALE = 0.25


def _bars_per_year(ts: pl.Series) -> float:
    d = ts.diff().dt.total_microseconds().drop_nulls()
    d = d.filter(d > 0)
    step_s = float(d.mode().sort()[0]) / 1e6 if d.len() else 3600.0
    return 365.0 * 86_400.0 / step_s


def components(bars: pl.DataFrame) -> pl.DataFrame:
    """``ts`` and the five component scores (columns ``s_volatility`` ... ``s_drawdown``), per
    bar, null where a component has no data yet or the source lacks it."""
    ann = _bars_per_year(bars["ts"]) ** 0.5
    close, high = pl.col("close"), pl.col("high")
    lr = close.log().diff()
    rv = lr.rolling_std(WINDOW_VOL, min_samples=WINDOW_VOL) * ann
    dev = close / close.rolling_mean(WINDOW_LONG, min_samples=MIN_BARS) - 1.0
    mom = 50.0 + 50.0 * (dev / MOMENTUM_SCALE).tanh()
    has_volume = "volume" in bars.columns and bars["volume"].null_count() < bars.height
    if has_volume:
        up_vol = pl.when(lr > 0).then(pl.col("volume")).otherwise(0.0)
        vol_sum = pl.col("volume").rolling_sum(WINDOW_VOL, min_samples=1)
        up_share = 100.0 * up_vol.rolling_sum(WINDOW_VOL, min_samples=1) / vol_sum
        mom = pl.when(up_share.is_finite()).then((mom + up_share) / 2.0).otherwise(mom)
    ll = pl.col("liq_long_usd").rolling_sum(WINDOW_WEEK, min_samples=1)
    ls = pl.col("liq_short_usd").rolling_sum(WINDOW_WEEK, min_samples=1)
    liq = pl.when(ll + ls > 0).then(100.0 * ls / (ll + ls)).otherwise(50.0)
    fund = pl.col("funding").rolling_mean(WINDOW_FUNDING, min_samples=1)
    dd = close / high.rolling_max(WINDOW_LONG, min_samples=1) - 1.0
    return bars.select(
        "ts",
        (100.0 * (1.0 - rv / VOL_SCALE)).clip(0.0, 100.0).alias("s_volatility"),
        pl.when(pl.int_range(pl.len()) >= MIN_BARS - 1).then(mom).alias("s_momentum"),
        pl.when(pl.col("liq_long_usd").is_not_null()).then(liq).alias("s_liquidations"),
        (50.0 + 50.0 * (fund / FUNDING_SCALE).tanh()).alias("s_funding"),
        (100.0 * (1.0 + dd / DRAWDOWN_SCALE)).clip(0.0, 100.0).alias("s_drawdown"),
    )


def sentiment(bars: pl.DataFrame) -> pl.DataFrame:
    """Per bar: ``ts``, the component scores and ``sentiment`` (the weighted mean of the
    components present, 0-100; null before the volatility component starts)."""
    comp = components(bars)
    names = [f"s_{k}" for k in WEIGHTS]
    vals = comp.select(names).to_numpy().astype(np.float64)
    w = np.array(list(WEIGHTS.values()))
    ok = np.isfinite(vals)
    # column by column (not a matrix product) so each row's value does not depend on the
    # number of rows (BLAS blocking would change the last bits)
    wsum = np.zeros(len(vals))
    score = np.zeros(len(vals))
    for j, wj in enumerate(w):
        wsum += np.where(ok[:, j], wj, 0.0)
        score += np.where(ok[:, j], vals[:, j] * wj, 0.0)
    out = np.divide(score, wsum, out=np.full(len(score), np.nan), where=wsum > 0)
    out[~ok[:, 0]] = np.nan
    return comp.with_columns(pl.Series("sentiment", out).fill_nan(None))


def sentiment_daily(bars: pl.DataFrame) -> pl.DataFrame:
    """Per UTC day: ``date``, ``sentiment`` and the components at the day's last bar (which
    uses only bars up to that one), and ``bars`` (how many bars the day has)."""
    per_bar = sentiment(bars)
    return (
        per_bar.sort("ts")
        .group_by(pl.col("ts").dt.date().alias("date"), maintain_order=True)
        .agg(pl.exclude("ts").last(), pl.len().alias("bars"))
        .sort("date")
    )
