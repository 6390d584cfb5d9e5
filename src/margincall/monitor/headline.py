"""The headline figures of a monitor report, each with the ``metrics.parquet`` rows it came from.

- **The window** is the whole loaded history up to ``at``: its low, high and drawdown.
  ``drawdown`` = last close / highest high of the window - 1, with the peak's price and time.
- **24 h** is the bars with start in ``(at - 24 h, at]``. The 24 h price change is from the
  close of the latest bar starting at or before ``at - 24 h`` (the close 24 h before the last
  close) to the last close; the open-interest change from the open interest at the open of
  that same bar to that of the last bar (open interest is at each bar's open, so both are 24 h
  apart). Liquidation sums are correctly rounded sums (``math.fsum``) of the rows' values.
- **The largest hour** of the 24 h is the clock hour (UTC, bars grouped by the hour their start
  falls in) whose bars liquidated the most, long and short together; with hourly bars it is
  the largest bar, with minute bars (a short run folder) the sum of that hour's minutes. It
  names its hour (``ts``, the hour's start) and the rows it sums (``from``). With bars longer
  than an hour (``--timeframe 4h``, daily sources) it is the largest bar, and ``unit`` says so
  (``hour``, ``4-hour bar``, ``1-day bar``), as the report's wording does.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import polars as pl

from margincall.monitor.indicators import liquidation_split
from margincall.monitor.metrics import (
    finite,
    iso,
    one_row,
    row_24h_before,
    rows_span,
    window_24h,
)
from margincall.monitor.sentiment import WEIGHTS

SENTIMENT_BANDS = ((25, "extreme fear"), (45, "fear"), (56, "neutral"), (76, "greed"))


def sentiment_label(value: float | None) -> str | None:
    if value is None:
        return None
    for upper, name in SENTIMENT_BANDS:
        if value < upper:
            return name
    return "extreme greed"


def largest_hour(
    m: pl.DataFrame, rows: np.ndarray, long_usd: np.ndarray, short_usd: np.ndarray
) -> dict[str, Any]:
    """The clock hour whose bars among ``rows`` (with their liquidations ``long_usd`` and
    ``short_usd``) liquidated the most: its start, exact sums by side and the rows summed. Ties
    go to the earliest hour."""
    hours = m["ts"].dt.truncate("1h").to_numpy()[rows]
    starts, which = np.unique(hours, return_inverse=True)
    best, best_total = 0, -math.inf
    for j in range(len(starts)):
        sel = which == j
        total = math.fsum([*long_usd[sel].tolist(), *short_usd[sel].tolist()])
        if total > best_total:
            best, best_total = j, total
    sel = which == best
    step = m["ts"].diff().drop_nulls().min()
    hours = int(step.total_seconds() // 3600) if isinstance(step, timedelta) else 1
    unit = (
        "hour"
        if hours <= 1
        else f"{hours // 24}-day bar"
        if hours % 24 == 0
        else f"{hours}-hour bar"
    )
    return {
        "unit": unit,
        "ts": iso(m["ts"].dt.truncate("1h")[int(rows[sel][0])]),
        "long_usd": math.fsum(long_usd[sel].tolist()),
        "short_usd": math.fsum(short_usd[sel].tolist()),
        "total_usd": best_total,
        "from": rows_span(m, rows[sel]),
    }


def headline(m: pl.DataFrame, at: datetime) -> dict[str, Any]:
    """The headline figures of the metrics frame as of ``at`` (see the module docstring)."""
    n = m.height
    last = n - 1
    all_rows = np.arange(n)
    win = window_24h(m, at)
    ref = row_24h_before(m, at)
    close = m["close"].to_numpy()
    out: dict[str, Any] = {}

    low_i = int(np.nanargmin(m["low"].to_numpy()))
    high_i = int(np.nanargmax(m["high"].to_numpy()))
    ref_close = finite(close[ref]) if ref is not None else None
    out["price"] = {
        "last_close": finite(close[last]),
        "last_close_from": one_row(m, last),
        "change_24h_pct": (close[last] / ref_close - 1.0) if ref_close else None,
        "change_24h_from": one_row(m, ref) if ref is not None else None,
        "window_low": finite(m["low"][low_i]),
        "window_low_at": one_row(m, low_i),
        "window_high": finite(m["high"][high_i]),
        "window_high_at": one_row(m, high_i),
        "window": rows_span(m, all_rows),
    }
    out["drawdown"] = {
        "pct": finite(close[last] / m["high"][high_i] - 1.0),
        "peak_price": finite(m["high"][high_i]),
        "peak_at": one_row(m, high_i),
        "from": rows_span(m, all_rows),
    }

    ll = m["liq_long_usd"].to_numpy()[win]
    ls = m["liq_short_usd"].to_numpy()[win]
    if len(win) and np.isfinite(ll).any():
        split = liquidation_split(np.nan_to_num(ll), np.nan_to_num(ls))
        split.pop("largest")  # a bar's; the figure is the largest clock hour's
        out["liquidations_24h"] = {
            **split,
            "largest_hour": largest_hour(m, win, np.nan_to_num(ll), np.nan_to_num(ls)),
            "from": rows_span(m, win),
        }
    else:
        out["liquidations_24h"] = None

    oi = m["oi_usd"].to_numpy()
    oi_start_i = ref if ref is not None and np.isfinite(oi[ref]) else None
    if oi_start_i is None and len(win) and np.isfinite(oi[win]).any():
        oi_start_i = int(win[np.isfinite(oi[win])][0])
    if oi_start_i is not None and np.isfinite(oi[last]):
        a, b = float(oi[oi_start_i]), float(oi[last])
        out["open_interest"] = {
            "start_usd": a,
            "end_usd": b,
            "change_24h_usd": b - a,
            "change_24h_pct": b / a - 1.0 if a > 0 else None,
            "start_from": one_row(m, oi_start_i),
            "end_from": one_row(m, last),
        }
    else:
        out["open_interest"] = None

    fund = m["funding"].to_numpy()
    fw = fund[win] if len(win) else np.array([])
    if np.isfinite(fund[last]):
        out["funding"] = {
            "last_per_8h": float(fund[last]),
            "mean_24h_per_8h": float(np.mean(fw[np.isfinite(fw)]))
            if np.isfinite(fw).any()
            else None,
            "last_from": one_row(m, last),
            "mean_from": rows_span(m, win[np.isfinite(fw)]),
        }
    else:
        out["funding"] = None

    lsr = m["long_short_ratio"].to_numpy()
    out["long_short_ratio"] = (
        {
            "last": float(lsr[last]),
            "at_24h_ago": finite(lsr[ref]) if ref is not None else None,
            "from": one_row(m, last),
        }
        if np.isfinite(lsr[last])
        else None
    )

    def val(col: str) -> float | None:
        return finite(m[col][last])

    out["sentiment"] = {
        "value": val("sentiment"),
        "label": sentiment_label(val("sentiment")),
        "components": {k: val(f"s_{k}") for k in WEIGHTS},
        "weights": dict(WEIGHTS),
        "from": one_row(m, last),
    }
    out["indicators"] = {
        "rsi_14": val("rsi_14"),
        "macd": val("macd"),
        "macd_signal": val("macd_signal"),
        "macd_hist": val("macd_hist"),
        "cmf_20": val("cmf_20"),
        "rv_24_annual": val("rv_24_annual"),
        "from": one_row(m, last),
    }
    return out
