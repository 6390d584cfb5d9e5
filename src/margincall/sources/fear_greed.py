"""The published Crypto Fear & Greed index (alternative.me), one value per day.

Schema (:data:`FEAR_GREED_SCHEMA`): ``date`` (Date, UTC day), ``value`` (Float64, 0 = extreme
fear to 100 = extreme greed), ``line`` (Int64: the CSV line, or the record's 1-based position
in the JSON ``data`` list).

Formats: a ``date,value`` CSV or Parquet, and the alternative.me ``/fng/`` JSON response
(``{"data": [{"value": "40", "value_classification": "Fear", "timestamp": "1551157200"},
...]}``, newest first, timestamps in Unix seconds at 00:00 UTC): rows are sorted by date.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import polars as pl

from margincall.sources.tables import Source, check_sorted_unique
from margincall.sources.times import epoch_to_utc

FEAR_GREED_SCHEMA: dict[str, pl.DataType] = {
    "date": pl.Date(),
    "value": pl.Float64(),
    "line": pl.Int64(),
}
COLUMNS = ("date", "value")
"""The columns of a table a mapping may name."""
FORMATS = (
    "a date,value table (CSV or Parquet)",
    'the alternative.me /fng/ JSON ({"data": [{"value", "timestamp"}, ...]})',
)


def read_fear_greed(path: str | Path, mapping: Mapping[str, str] | None = None) -> pl.DataFrame:
    """Read a Fear & Greed file into :data:`FEAR_GREED_SCHEMA` (module docstring); a table's
    ``date`` and ``value`` columns may be named by ``mapping``.

    Raises:
        InvalidInputError: names the file, the formats tried and the first bad row and field.
    """
    src = Source(path, FORMATS)
    mapping = Source.check_keys(mapping, COLUMNS, "fear & greed")
    if src.path.suffix.lower() == ".json":
        out = _from_json(src)
    else:
        raw = src.table()
        date_col = src.pick(raw, mapping, "date", ("date", "timestamp", "day"), "date")
        value_col = src.pick(raw, mapping, "value", ("value", "fng", "fear_greed"), "value")
        out = pl.DataFrame(
            [
                src.dates(raw, date_col),
                src.numbers(raw, value_col).alias("value"),
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
