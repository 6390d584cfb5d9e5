"""The published Crypto Fear & Greed index (alternative.me), one value per day.

Schema (:data:`FEAR_GREED_SCHEMA`): ``date`` (Date, UTC day), ``value`` (Float64, 0 = extreme
fear to 100 = extreme greed), ``line`` (Int64: the CSV line, or the record's 1-based position
in the JSON ``data`` list).

Formats: a ``date,value`` CSV or Parquet, and the alternative.me ``/fng/`` JSON response
(``{"data": [{"value": "40", "value_classification": "Fear", "timestamp": "1551157200"},
...]}``, newest first, timestamps in Unix seconds at 00:00 UTC): rows are sorted by date.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from margincall.sources.tables import Source, check_sorted_unique
from margincall.sources.times import epoch_to_utc

FEAR_GREED_SCHEMA: dict[str, pl.DataType] = {
    "date": pl.Date(),
    "value": pl.Float64(),
    "line": pl.Int64(),
}
FORMATS = (
    "a date,value table (CSV or Parquet)",
    'the alternative.me /fng/ JSON ({"data": [{"value", "timestamp"}, ...]})',
)


def read_fear_greed(path: str | Path) -> pl.DataFrame:
    """Read a Fear & Greed file into :data:`FEAR_GREED_SCHEMA` (module docstring).

    Raises:
        InvalidInputError: names the file, the formats tried and the first bad row and field.
    """
    src = Source(path, FORMATS)
    if src.path.suffix.lower() == ".json":
        out = _from_json(src)
    else:
        raw = src.table()
        out = pl.DataFrame(
            [
                src.dates(raw, src.column(raw, ("date", "timestamp", "day"), "date")),
                src.numbers(raw, src.column(raw, ("value", "fng", "fear_greed"), "value")).alias(
                    "value"
                ),
                src.lines(raw.height),
            ]
        )
    bad = out.filter(pl.col("value").is_null() | ~pl.col("value").is_between(0, 100))
    if bad.height:
        raise src.error(
            f"line {bad['line'][0]}, column value", bad["value"][0], "an index from 0 to 100"
        )
    check_sorted_unique(src, out)
    return out.select([pl.col(k).cast(v) for k, v in FEAR_GREED_SCHEMA.items()])


def _from_json(src: Source) -> pl.DataFrame:
    doc = src.json()
    data = doc.get("data") if isinstance(doc, dict) else None
    if not isinstance(data, list) or not data:
        raise src.error("data", "(missing or empty)", "a list of daily records")
    dates, values = [], []
    for i, rec in enumerate(data):
        try:
            values.append(float(rec["value"]))
            dates.append(float(rec["timestamp"]))
        except (KeyError, TypeError, ValueError):
            raise src.error(
                f"record {i + 1}", rec, "an object with a numeric value and timestamp"
            ) from None
    out = pl.DataFrame(
        {
            "date": epoch_to_utc(dates, "date").dt.date(),
            "value": values,
            "line": list(range(1, len(data) + 1)),
        }
    )
    return out.sort("date")
