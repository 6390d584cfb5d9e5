"""Times as UTC: epoch numbers (unit told apart by magnitude) and time columns."""

from __future__ import annotations

import numpy as np
import polars as pl

from margincall.core.errors import InvalidInputError


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
