"""The Binance kline CSV of data.binance.vision (12 columns ``open_time, open, high, low,
close, volume, close_time, quote_volume, count, taker_buy_volume, taker_buy_quote_volume,
ignore``), with or without a header line.

``open_time`` is in milliseconds (futures files, spot files before 2025) or microseconds (spot
files from 2025): the unit is chosen per row by magnitude (:func:`~.times.epoch_to_utc`).
Schema: ``ts`` (Datetime(us, UTC), the bar start), ``open``, ``high``, ``low``, ``close``,
``volume`` (base asset), ``volume_usd`` (the quote volume; USDT or USDC taken as USD), rows as
the file gives them.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from margincall.core.errors import InvalidInputError
from margincall.sources.times import epoch_to_utc

BINANCE_KLINE_COLUMNS = (
    "open_time",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "close_time",
    "quote_volume",
    "count",
    "taker_buy_volume",
    "taker_buy_quote_volume",
    "ignore",
)
"""The 12 columns of a data.binance.vision kline file, in order."""


def read_klines(path: str | Path) -> pl.DataFrame:
    """A kline CSV as ``ts, open, high, low, close, volume, volume_usd`` (module docstring)."""
    path = Path(path)
    try:
        raw = pl.read_csv(
            path,
            has_header=has_header(path),
            new_columns=list(BINANCE_KLINE_COLUMNS),
            infer_schema_length=10_000,
        )
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise InvalidInputError(
            "source", str(path), f"a readable Binance kline CSV ({type(exc).__name__}: {exc})"
        ) from None
    if raw.width != len(BINANCE_KLINE_COLUMNS):
        raise InvalidInputError(
            f"{path.name}: columns", raw.width, f"{len(BINANCE_KLINE_COLUMNS)} kline columns"
        )
    return raw.select(
        epoch_to_utc(raw["open_time"].cast(pl.Float64).to_numpy(), "ts"),
        "open",
        "high",
        "low",
        "close",
        "volume",
        pl.col("quote_volume").alias("volume_usd"),
    )


def first_line(path: Path) -> list[str]:
    with path.open("r", encoding="utf-8", errors="replace") as fh:
        return fh.readline().strip().split(",")


def has_header(path: Path) -> bool:
    first = first_line(path)
    try:
        float(first[0])
    except ValueError:
        return True
    return False


def looks_like_klines(path: Path) -> bool:
    """A CSV whose first line is Binance's header or 12 numbers."""
    if path.suffix.lower() in (".parquet", ".pq", ".json"):
        return False
    first = first_line(path)
    if len(first) != len(BINANCE_KLINE_COLUMNS):
        return False
    if has_header(path):
        return [c.strip().lower() for c in first] == list(BINANCE_KLINE_COLUMNS)
    try:
        [float(x) for x in first]
    except ValueError:
        return False
    return True
