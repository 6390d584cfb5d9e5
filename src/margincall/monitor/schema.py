"""The canonical bar schema every monitor reader returns, and helpers to conform to it.

:data:`BAR_SCHEMA` (one row per bar, in the order the source gives them; readers do not sort,
deduplicate or drop rows, :mod:`margincall.monitor.checks` reports such problems instead):

============== =========================== ==================================================
column         type                        meaning
============== =========================== ==================================================
ts             Datetime(us, UTC)           bar start (period open), UTC
open .. close  Float64                     prices in the quote currency (USD or USDT, taken
                                           as USD)
volume         Float64                     traded volume in the base asset (e.g. BTC)
volume_usd     Float64                     traded volume in the quote currency (USD)
oi_usd         Float64                     open interest at the bar's open, USD
funding        Float64                     funding rate per 8 h as a fraction (0.0001 = 0.01%)
liq_long_usd   Float64                     long positions force-closed in the bar, USD
liq_short_usd  Float64                     short positions force-closed in the bar, USD
long_short_ratio Float64                   long accounts / short accounts
============== =========================== ==================================================

A column a source does not provide is present and entirely null. Naive times are taken as UTC.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from margincall.core.errors import InvalidInputError

BAR_SCHEMA: dict[str, pl.DataType] = {
    "ts": pl.Datetime("us", "UTC"),
    "open": pl.Float64(),
    "high": pl.Float64(),
    "low": pl.Float64(),
    "close": pl.Float64(),
    "volume": pl.Float64(),
    "volume_usd": pl.Float64(),
    "oi_usd": pl.Float64(),
    "funding": pl.Float64(),
    "liq_long_usd": pl.Float64(),
    "liq_short_usd": pl.Float64(),
    "long_short_ratio": pl.Float64(),
}
"""Column names and types of every frame returned by the monitor readers."""

VALUE_COLUMNS = tuple(c for c in BAR_SCHEMA if c != "ts")


def conform(frame: pl.DataFrame, source: str) -> pl.DataFrame:
    """``frame`` with exactly the columns of :data:`BAR_SCHEMA`, in order: missing columns are
    added as nulls, extra ones dropped, values cast. ``ts`` must already be a UTC datetime.

    Raises:
        InvalidInputError: a value column holds something that is not a number (names the
            source and the column).
    """
    cols = []
    for name, dtype in BAR_SCHEMA.items():
        if name not in frame.columns:
            cols.append(pl.lit(None, dtype).alias(name))
            continue
        cols.append(pl.col(name))
    out = frame.select(cols)
    for name, dtype in BAR_SCHEMA.items():
        try:
            out = out.with_columns(pl.col(name).cast(dtype, strict=True))
        except pl.exceptions.PolarsError:
            raise InvalidInputError(
                f"{source}: {name}", str(out.schema[name]), f"a {dtype} column"
            ) from None
    return out


def to_utc(col: pl.Series, source: str) -> pl.Series:
    """A time column as ``Datetime(us, UTC)``.

    Accepts ISO 8601 text (naive text is UTC), datetimes (naive ones are UTC, aware ones are
    converted), dates (midnight UTC) and Unix epoch numbers, whose unit is told apart by
    magnitude: below 1e11 seconds, below 1e14 milliseconds, below 1e17 microseconds, otherwise
    nanoseconds (so any time between 1973 and 5138 is read right).
    """
    dtype = col.dtype
    if dtype == pl.String:
        try:
            parsed = col.str.to_datetime(time_unit="us", strict=True)
        except pl.exceptions.PolarsError:
            raise InvalidInputError(
                f"{source}: {col.name}", col[0], "ISO 8601 times or Unix epoch numbers"
            ) from None
        return to_utc(parsed, source)
    if isinstance(dtype, pl.Datetime):
        out = col.dt.cast_time_unit("us")
        if dtype.time_zone is None:
            return out.dt.replace_time_zone("UTC")
        return out.dt.convert_time_zone("UTC")
    if dtype == pl.Date:
        return col.cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
    if dtype.is_numeric():
        return epoch_to_utc(col.cast(pl.Float64).to_numpy(), col.name)
    raise InvalidInputError(f"{source}: {col.name}", str(dtype), "a time column")


def epoch_to_utc(values: np.ndarray, name: str = "ts") -> pl.Series:
    """Unix epoch numbers (unit chosen per value by magnitude, see :func:`to_utc`) as UTC."""
    v = np.asarray(values, np.float64)
    a = np.abs(v)
    scale = np.where(a < 1e11, 1e6, np.where(a < 1e14, 1e3, np.where(a < 1e17, 1.0, 1e-3)))
    us = np.rint(np.nan_to_num(v) * scale).astype(np.int64)
    s = pl.Series(name, us).cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
    return s.scatter(np.flatnonzero(~np.isfinite(v)), None) if not np.isfinite(v).all() else s
