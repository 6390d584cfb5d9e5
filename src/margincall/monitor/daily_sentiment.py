"""The market's own daily index with the daily sources' components: ETF flows and breadth.

Per UTC day, each a score in [0, 100] (higher = greedier), from rows dated on or before it:

- ``bars``: the bar index of :mod:`margincall.monitor.sentiment` at the day's last bar (when
  bars are given);
- ``etf_flows``: ``50 + 50 * tanh(z)``, ``z`` = the sum of the last :data:`ETF_DAYS` flow days
  (all ETF assets' Totals added) / the standard deviation of that 5-day sum over the last
  :data:`ETF_SPREAD_DAYS` flow days (at least :data:`ETF_MIN_DAYS`). A day without a flow row
  (weekend, holiday) takes the last flow day's score;
- ``breadth``: ``100 x`` the share of the symbols (``--closes``) whose close is above their own
  mean close of the last :data:`BREADTH_DAYS` rows (a symbol counts from its 30th row; a day
  with no symbol counted has none).

The index is ``sum(w_k x score_k) / sum(w_k)`` over the components present that day (weights
:data:`DAILY_WEIGHTS`): without ETF flows or closes it is the bar index alone; without bars it is
made of the components the sources give.

**Weights.** ``bars`` keeps weight 1 - w_etf - w_breadth; (w_etf, w_breadth) were chosen by
:func:`fit_weights` on 2025-12-01 .. 2026-02-28 only (:data:`FIT_FROM`, :data:`FIT_TO`: no row
dated later is read for the fit): the pair on a 0.05 grid (each at most 0.5) that maximises the
Spearman correlation of the daily index with the published Fear & Greed, the smallest weights
first among ties. The fit gave Spearman 0.839 over 86 days (bars alone: 0.819; ETF flows
alone 0.306; breadth alone 0.674). The inputs were the shared hourly BTC panel, the Farside BTC ETF flows, the
Coinbase BTC and ETH closes and the Fear & Greed file (``tests/monitor/test_daily_sentiment.py``
refits and checks the constants).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import numpy as np
import polars as pl

ETF_DAYS = 5
ETF_SPREAD_DAYS = 90
ETF_MIN_DAYS = 20
BREADTH_DAYS = 30
FIT_FROM = date(2025, 12, 1)
FIT_TO = date(2026, 2, 28)
FIT_SPAN = "Dec 2025 - Feb 2026"
GRID = tuple(round(0.05 * k, 2) for k in range(11))

DAILY_WEIGHTS: dict[str, float] = {"bars": 0.5, "etf_flows": 0.05, "breadth": 0.45}
"""Weights of the daily index (module docstring: chosen on Dec 2025 - Feb 2026 only)."""


def etf_component(days: Sequence[pl.DataFrame]) -> pl.DataFrame:
    """``date, s_etf_flows`` per flow day from the flows' ``date, total_usd`` frames."""
    total = (
        pl.concat([d.select("date", "total_usd") for d in days])
        .group_by("date")
        .agg(pl.col("total_usd").sum())
        .sort("date")
    )
    s5 = pl.col("total_usd").rolling_sum(ETF_DAYS)
    spread = s5.rolling_std(ETF_SPREAD_DAYS, min_samples=ETF_MIN_DAYS)
    z = s5 / spread
    return total.select(
        "date", pl.when(spread > 0).then(50.0 + 50.0 * z.tanh()).alias("s_etf_flows")
    ).drop_nulls()


def breadth_component(closes: Sequence[pl.DataFrame]) -> pl.DataFrame:
    """``date, s_breadth, symbols`` from the symbols' ``date, close`` frames."""
    above = [
        c.sort("date").select(
            "date",
            (pl.col("close") > pl.col("close").rolling_mean(BREADTH_DAYS)).alias("above"),
        )
        for c in closes
    ]
    return (
        pl.concat(above)
        .drop_nulls()
        .group_by("date")
        .agg((100.0 * pl.col("above").mean()).alias("s_breadth"), pl.len().alias("symbols"))
        .sort("date")
    )


def daily_index(
    bars_daily: pl.DataFrame | None,
    etf: pl.DataFrame | None,
    breadth: pl.DataFrame | None,
    weights: dict[str, float] = DAILY_WEIGHTS,
) -> pl.DataFrame:
    """``date, sentiment, s_bars, s_etf_flows, s_breadth`` per day any component has (the ETF
    score carried over days without flows)."""
    parts = {
        "s_bars": None
        if bars_daily is None
        else bars_daily.select("date", pl.col("sentiment").alias("s_bars")).drop_nulls(),
        "s_etf_flows": etf,
        "s_breadth": None if breadth is None else breadth.select("date", "s_breadth"),
    }
    present = [p for p in parts.values() if p is not None and p.height]
    if not present:
        return pl.DataFrame(schema={"date": pl.Date, "sentiment": pl.Float64})
    lo = min(p["date"].min() for p in present)
    hi = max(p["date"].max() for p in present)
    frame = pl.DataFrame({"date": pl.date_range(lo, hi, "1d", eager=True)})
    for name, p in parts.items():
        if p is None or not p.height:
            frame = frame.with_columns(pl.lit(None, pl.Float64).alias(name))
        elif name == "s_etf_flows":
            frame = frame.join_asof(p.sort("date"), on="date", strategy="backward")
        else:
            frame = frame.join(p, on="date", how="left")
    keys = {"s_bars": "bars", "s_etf_flows": "etf_flows", "s_breadth": "breadth"}
    vals = frame.select(list(keys)).to_numpy().astype(np.float64)
    w = np.array([weights[k] for k in keys.values()])
    ok = np.isfinite(vals)
    wsum = (ok * w).sum(axis=1)
    score = np.where(ok, vals, 0.0) @ w
    out = np.divide(score, wsum, out=np.full(len(score), np.nan), where=wsum > 0)
    return frame.with_columns(pl.Series("sentiment", out).fill_nan(None)).drop_nulls("sentiment")


def own_index(
    metrics: pl.DataFrame | None, etf_days: Sequence[pl.DataFrame], closes: Sequence[pl.DataFrame]
) -> pl.DataFrame:
    """The daily index from what the report has: the bars' metrics (per-bar ``sentiment``), the
    ETF flows' days and the symbols' closes (any may be absent)."""
    bars_daily = None
    if metrics is not None:
        bars_daily = (
            metrics.sort("ts")
            .group_by(pl.col("ts").dt.date().alias("date"), maintain_order=True)
            .agg(pl.col("sentiment").last())
        )
    etf = etf_component(etf_days) if etf_days else None
    breadth = breadth_component(closes) if closes else None
    return daily_index(bars_daily, etf, breadth)


def spearman_with(index: pl.DataFrame, fg: pl.DataFrame) -> tuple[float, int]:
    """Spearman correlation of ``index.sentiment`` with ``fg.value`` on their common days."""
    j = index.join(fg.select("date", "value"), on="date").drop_nulls()
    a, b = j["sentiment"].rank().to_numpy(), j["value"].rank().to_numpy()
    if j.height < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan"), j.height
    return float(np.corrcoef(a, b)[0, 1]), j.height


def fit_weights(
    bars_daily: pl.DataFrame | None,
    etf: pl.DataFrame | None,
    breadth: pl.DataFrame | None,
    fg: pl.DataFrame,
) -> tuple[dict[str, float], float]:
    """The weights of the best Spearman with Fear & Greed on :data:`FIT_FROM`..:data:`FIT_TO`
    (module docstring) and that correlation. Rows after :data:`FIT_TO` are dropped here."""

    def cut(f: pl.DataFrame | None) -> pl.DataFrame | None:
        return None if f is None else f.filter(pl.col("date") <= FIT_TO)

    fg = fg.filter((pl.col("date") >= FIT_FROM) & (pl.col("date") <= FIT_TO))
    bars_daily, etf, breadth = cut(bars_daily), cut(etf), cut(breadth)
    best: tuple[float, dict[str, float]] | None = None
    for we in GRID:
        for wb in GRID:
            if we > 0.5 or wb > 0.5:
                continue
            w = {"bars": round(1.0 - we - wb, 2), "etf_flows": we, "breadth": wb}
            rho, _ = spearman_with(daily_index(bars_daily, etf, breadth, w), fg)
            if np.isfinite(rho) and (best is None or rho > best[0] + 1e-12):
                best = (rho, w)
    assert best is not None
    return best[1], best[0]
