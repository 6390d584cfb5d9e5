"""Data checks on bars in the canonical schema: each problem is a :class:`DataWarning`.

Nothing is dropped or repaired: the checks only report, so a caller can show the warnings next
to the figures computed from the data as it is.

Kinds (:data:`KINDS`):

- ``gap``: the time step before a row is longer than the bar period (``rows`` are the rows
  after each gap; the message gives the number of missing bars);
- ``duplicate``: a row whose ``ts`` equals an earlier row's (every repeat, not the first);
- ``out_of_order``: a row whose ``ts`` is earlier than the row before it;
- ``all_zero``: a value column that is zero in every row (null rows aside) — usually a feed
  that is not populated, like the ``cvd_*`` columns of the CoinGlass export;
- ``negative``: negative prices, volumes, open interest, liquidations or long/short ratio
  (funding may be negative and is not checked);
- ``high_low``: ``high`` below ``low``, ``open`` or ``close``, or ``low`` above them.

Row numbers are 0-based positions in the frame as given (the first data row is row 0).
The bar period is taken from the ``period`` argument or, when omitted, the most common
positive time step.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import numpy as np
import polars as pl

KINDS = ("gap", "duplicate", "out_of_order", "all_zero", "negative", "high_low")

NON_NEGATIVE = (
    "open",
    "high",
    "low",
    "close",
    "volume",
    "volume_usd",
    "oi_usd",
    "liq_long_usd",
    "liq_short_usd",
    "long_short_ratio",
)

MAX_ROWS_IN_MESSAGE = 5


@dataclass(frozen=True)
class DataWarning:
    """One data problem: its ``kind`` (see :data:`KINDS`), the ``column`` concerned, the
    0-based ``rows`` concerned and a sentence for people."""

    kind: str
    column: str
    rows: tuple[int, ...] = field(default_factory=tuple)
    message: str = ""


def check_bars(bars: pl.DataFrame, period: timedelta | None = None) -> list[DataWarning]:
    """All warnings for ``bars`` (canonical schema or any frame with a ``ts`` column), in the
    order of :data:`KINDS`."""
    out: list[DataWarning] = []
    if "ts" in bars.columns and bars.height > 1:
        out += _time_checks(bars, period)
    out += _value_checks(bars)
    return out


def _rows_text(rows: np.ndarray) -> str:
    shown = ", ".join(str(int(r)) for r in rows[:MAX_ROWS_IN_MESSAGE])
    more = f" and {len(rows) - MAX_ROWS_IN_MESSAGE} more" if len(rows) > MAX_ROWS_IN_MESSAGE else ""
    return f"row{'s' if len(rows) > 1 else ''} {shown}{more}"


def _time_checks(bars: pl.DataFrame, period: timedelta | None) -> list[DataWarning]:
    out: list[DataWarning] = []
    us = bars["ts"].dt.epoch("us").to_numpy()
    valid = ~bars["ts"].is_null().to_numpy()
    d = np.diff(us)
    ok = valid[1:] & valid[:-1]
    if period is None:
        pos = d[ok & (d > 0)]
        if len(pos) == 0:
            step = None
        else:
            vals, counts = np.unique(pos, return_counts=True)
            step = int(vals[np.argmax(counts)])
    else:
        step = int(period / timedelta(microseconds=1))
    if step:
        gap = np.flatnonzero(ok & (d > step)) + 1
        if len(gap):
            missing = int(((d[gap - 1] // step) - 1).sum())
            out.append(
                DataWarning(
                    "gap",
                    "ts",
                    tuple(int(r) for r in gap),
                    f"{len(gap)} gap(s), {missing} missing bar(s) of "
                    f"{timedelta(microseconds=step)} before {_rows_text(gap)}",
                )
            )
    seen = pl.Series(us).is_duplicated().to_numpy() & ~pl.Series(us).is_first_distinct().to_numpy()
    dup = np.flatnonzero(seen & valid)
    if len(dup):
        out.append(
            DataWarning(
                "duplicate",
                "ts",
                tuple(int(r) for r in dup),
                f"{len(dup)} row(s) repeat an earlier timestamp: {_rows_text(dup)}",
            )
        )
    back = np.flatnonzero(ok & (d < 0)) + 1
    if len(back):
        out.append(
            DataWarning(
                "out_of_order",
                "ts",
                tuple(int(r) for r in back),
                f"{len(back)} row(s) earlier than the row before: {_rows_text(back)}",
            )
        )
    return out


def _value_checks(bars: pl.DataFrame) -> list[DataWarning]:
    zero: list[DataWarning] = []
    neg: list[DataWarning] = []
    for name, dtype in bars.schema.items():
        if name == "ts" or not dtype.is_numeric():
            continue
        col = bars[name]
        if col.null_count() == len(col) or len(col) == 0:
            continue
        if bool((col.drop_nulls() == 0).all()):
            zero.append(
                DataWarning("all_zero", name, (), f"column {name} is 0 in every row ({len(col)})")
            )
        if name in NON_NEGATIVE:
            rows = np.flatnonzero((col < 0).fill_null(False).to_numpy())
            if len(rows):
                neg.append(
                    DataWarning(
                        "negative",
                        name,
                        tuple(int(r) for r in rows),
                        f"{name} is negative in {len(rows)} row(s): {_rows_text(rows)}",
                    )
                )
    return zero + neg + _high_low(bars)


def _high_low(bars: pl.DataFrame) -> list[DataWarning]:
    if not {"open", "high", "low", "close"} <= set(bars.columns):
        return []
    bad = (
        (pl.col("high") < pl.max_horizontal("open", "close", "low"))
        | (pl.col("low") > pl.min_horizontal("open", "close"))
    ).fill_null(False)
    rows = np.flatnonzero(bars.select(bad).to_series().to_numpy())
    if not len(rows):
        return []
    return [
        DataWarning(
            "high_low",
            "high",
            tuple(int(r) for r in rows),
            f"high/low inconsistent with open/close in {len(rows)} row(s): {_rows_text(rows)}",
        )
    ]
