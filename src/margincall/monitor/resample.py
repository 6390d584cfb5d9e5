"""Bars of a longer timeframe from finer ones (``margincall monitor --timeframe 1h|4h|1d``).

Buckets are aligned to UTC (4 h: 00:00, 04:00, ...; 1 d: 00:00) and labelled by their start.
Per bucket, from the finer bars whose start falls in it:

- ``open``: the first bar's; ``high``: the highest; ``low``: the lowest; ``close``: the last
  bar's;
- ``volume``, ``volume_usd``, ``liq_long_usd``, ``liq_short_usd``: summed (null when every bar's
  is null);
- ``oi_usd``, ``funding``, ``long_short_ratio``: the last non-null value (a level, not a flow);
- ``complete``: whether the finer bars reach the bucket's end: False for the last bucket when
  the last bar (start + the source's bar length, the most common step) ends before it. Only the
  last bucket can be incomplete; a gap inside the data is reported by the data checks.

The source's bar length must divide the timeframe (hourly bars give 1 h, 4 h and 1 d; 4-hour
bars give 4 h and 1 d); a coarser source is refused.
"""

from __future__ import annotations

from datetime import timedelta

import polars as pl

from margincall.core.errors import InvalidInputError
from margincall.monitor.schema import BAR_SCHEMA

TIMEFRAMES: dict[str, timedelta] = {
    "1h": timedelta(hours=1),
    "4h": timedelta(hours=4),
    "1d": timedelta(days=1),
}
SUMMED = ("volume", "volume_usd", "liq_long_usd", "liq_short_usd")
LEVELS = ("oi_usd", "funding", "long_short_ratio")


def parse_timeframe(text: str) -> timedelta:
    if text not in TIMEFRAMES:
        raise InvalidInputError("--timeframe", text, f"one of {', '.join(TIMEFRAMES)}")
    return TIMEFRAMES[text]


def bar_length(ts: pl.Series) -> timedelta | None:
    """The most common step between consecutive bars (the shortest when tied)."""
    d = ts.sort().diff().drop_nulls()
    d = d.filter(d > timedelta(0))
    return None if d.len() == 0 else d.mode().sort()[0]


def resample(bars: pl.DataFrame, timeframe: str) -> pl.DataFrame:
    """``bars`` (:data:`~.schema.BAR_SCHEMA`) as bars of ``timeframe`` with a ``complete``
    column (module docstring). Rows are sorted by ``ts`` first.

    Raises:
        InvalidInputError: an unknown timeframe, or bars longer than it or not dividing it.
    """
    every = parse_timeframe(timeframe)
    bars = bars.sort("ts")
    step = bar_length(bars["ts"]) or every
    if step > every or every % step:
        raise InvalidInputError(
            "--timeframe",
            timeframe,
            f"a timeframe the source's {_fmt(step)} bars divide (one of "
            f"{', '.join(k for k, v in TIMEFRAMES.items() if v >= step and not v % step)})",
        )
    aggs = [
        pl.col("open").first(),
        pl.col("high").max(),
        pl.col("low").min(),
        pl.col("close").last(),
        *(pl.when(pl.col(c).is_not_null().any()).then(pl.col(c).sum()).alias(c) for c in SUMMED),
        *(pl.col(c).drop_nulls().last().alias(c) for c in LEVELS),
    ]
    out = bars.group_by_dynamic("ts", every=every, closed="left", label="left").agg(aggs)
    end = bars["ts"].max() + step
    out = out.with_columns((pl.col("ts") + every <= end).alias("complete"))
    return out.select(*BAR_SCHEMA, "complete").with_columns(
        [pl.col(c).cast(t) for c, t in BAR_SCHEMA.items()]
    )


def _fmt(step: timedelta) -> str:
    hours = step.total_seconds() / 3600
    return f"{hours:g}-hour" if hours < 24 else f"{hours / 24:g}-day"
