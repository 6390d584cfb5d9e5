"""The per-bar metrics frame (``metrics.parquet``) and how a figure names the rows it came from.

Rows are 0-based positions in the frame, also stored in its ``row`` column. A figure from one
row carries ``{"row", "ts"}`` (:func:`one_row`); a figure from several carries their count,
first and last row and time (:func:`rows_span`, with the full list when they are not
contiguous). The **24 h** window is the bars with start in ``(at - 24 h, at]``
(:func:`window_24h`).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import polars as pl

from margincall.monitor.indicators import compute_indicators
from margincall.monitor.sentiment import sentiment

HOURS_24 = timedelta(hours=24)


def metrics_frame(bars: pl.DataFrame) -> pl.DataFrame:
    """One row per bar: ``row``, the bar columns, the indicators and the sentiment index."""
    ind = compute_indicators(bars)
    sent = sentiment(bars).drop("ts")
    return (
        pl.concat([ind, sent], how="horizontal")
        .with_row_index("row")
        .with_columns(pl.col("row").cast(pl.Int64))
    )


def iso(value: Any) -> str | None:
    """A time as ``2026-02-06T01:00:00Z`` (``None`` stays ``None``)."""
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def finite(value: Any) -> float | None:
    """``value`` as a float, or ``None`` when it is missing, NaN or infinite."""
    if value is None:
        return None
    v = float(value)
    return v if math.isfinite(v) else None


def rows_span(m: pl.DataFrame, rows: np.ndarray) -> dict[str, Any]:
    """Where a figure comes from: its rows of metrics.parquet and their time range."""
    rows = np.sort(np.asarray(rows, np.int64))
    out: dict[str, Any] = {"row_count": len(rows)}
    if len(rows):
        out |= {
            "row_from": int(rows[0]),
            "row_to": int(rows[-1]),
            "ts_from": iso(m["ts"][int(rows[0])]),
            "ts_to": iso(m["ts"][int(rows[-1])]),
        }
        if rows[-1] - rows[0] + 1 != len(rows):
            out["rows"] = rows.tolist()
    return out


def one_row(m: pl.DataFrame, i: int) -> dict[str, Any]:
    """Where a figure of one row comes from: the row and its time."""
    return {"row": int(i), "ts": iso(m["ts"][int(i)])}


def window_24h(m: pl.DataFrame, at: datetime) -> np.ndarray:
    """The rows whose bar starts in ``(at - 24 h, at]``."""
    return np.flatnonzero(((m["ts"] > at - HOURS_24) & (m["ts"] <= at)).to_numpy())


def row_24h_before(m: pl.DataFrame, at: datetime) -> int | None:
    """The latest bar starting at or before ``at - 24 h``."""
    ts = m["ts"]
    ok = np.flatnonzero((ts <= at - HOURS_24).to_numpy())
    if not len(ok):
        return None
    return int(ok[np.argmax(ts.dt.epoch("us").to_numpy()[ok])])
