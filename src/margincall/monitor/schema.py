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
