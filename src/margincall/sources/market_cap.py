"""Total crypto market capitalisation per day.

Schema (:data:`MARKET_CAP_SCHEMA`): ``date`` (Date, UTC day; the value at its end),
``total_usd``, ``btc_usd``, ``eth_usd`` (Float64, USD; btc/eth null where the source gives
neither their market cap nor their dominance), ``line`` (Int64).

Formats:

- a table (CSV or Parquet): a date column (``date``, ``timestamp``, ``time``), the total
  (``total_mcap_usd``, ``total_usd``, ``total``, ``total_market_cap``, ``market_cap``), and
  optionally BTC and ETH as market cap (``btc_mcap_usd``, ``btc_usd``, ``btc_market_cap``) or
  dominance in percent (``btc_dominance_pct``, ``btc_dominance``, the share x the total);
- CoinGecko ``/global`` JSON (``data.total_market_cap.usd``, ``data.market_cap_percentage``
  ``.btc``/``.eth`` in percent, ``data.updated_at`` in Unix seconds): one row, that day;
- CoinGecko ``/global/market_cap_chart`` JSON (``market_cap_chart.market_cap`` as
  ``[[unix ms, usd], ...]``): the last point of each UTC day (:func:`daily_last`: a point at
  00:00 UTC closes the day before).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import polars as pl

from margincall.sources.tables import Source, check_sorted_unique
from margincall.sources.times import epoch_to_utc

MARKET_CAP_SCHEMA: dict[str, pl.DataType] = {
    "date": pl.Date(),
    "total_usd": pl.Float64(),
    "btc_usd": pl.Float64(),
    "eth_usd": pl.Float64(),
    "line": pl.Int64(),
}
FORMATS = (
    "a daily table (CSV or Parquet: date, total_mcap_usd|total, btc/eth market cap or "
    "dominance in percent)",
    "CoinGecko /global JSON (data.total_market_cap.usd)",
    "CoinGecko /global/market_cap_chart JSON (market_cap_chart.market_cap)",
)
TOTAL = ("total_mcap_usd", "total_usd", "total", "total_market_cap", "market_cap")
DATE = ("date", "timestamp", "time", "day")
COLUMNS = ("date", "total")
"""The columns of a table a mapping may name."""


def read_market_cap(path: str | Path, mapping: Mapping[str, str] | None = None) -> pl.DataFrame:
    """Read a market-cap file (module docstring) into :data:`MARKET_CAP_SCHEMA`; a table's
    ``date`` and ``total`` columns may be named by ``mapping``.

    Raises:
        InvalidInputError: names the file, the formats tried and the first bad line and field.
    """
    src = Source(path, FORMATS)
    mapping = Source.check_keys(mapping, COLUMNS, "market cap")
    if src.path.suffix.lower() == ".json":
        out = _from_json(src, src.json())
    else:
        raw = src.table()
        total = src.numbers(raw, src.pick(raw, mapping, "total", TOTAL, "total market cap"))
        date_col = src.pick(raw, mapping, "date", DATE, "date")
        cols = [src.dates(raw, date_col), total.alias("total_usd")]
        for coin in ("btc", "eth"):
            cols.append(_coin(src, raw, coin, total).alias(f"{coin}_usd"))
        out = pl.DataFrame([*cols, src.lines(raw.height)])
    bad = out.filter(pl.col("total_usd").is_null() | (pl.col("total_usd") <= 0))
    if bad.height:
        raise src.error(
            f"line {bad['line'][0]}, column total", bad["total_usd"][0], "a positive market cap"
        )
    check_sorted_unique(src, out)
    return out.select([pl.col(k).cast(v) for k, v in MARKET_CAP_SCHEMA.items()])


def _coin(src: Source, raw: pl.DataFrame, coin: str, total: pl.Series) -> pl.Series:
    lower = {c.lower(): c for c in raw.columns}
    for name in (f"{coin}_mcap_usd", f"{coin}_usd", f"{coin}_market_cap"):
        if name in lower:
            return src.numbers(raw, lower[name])
    for name in (f"{coin}_dominance_pct", f"{coin}_dominance", f"{coin}.d"):
        if name in lower:
            return src.numbers(raw, lower[name]) / 100.0 * total
    return pl.Series([None] * raw.height, dtype=pl.Float64)


def _from_json(src: Source, doc: Any) -> pl.DataFrame:
    if isinstance(doc, dict) and isinstance(doc.get("data"), dict):
        d = doc["data"]
        try:
            total = float(d["total_market_cap"]["usd"])
            pct = d.get("market_cap_percentage") or {}
            when = epoch_to_utc([float(d["updated_at"])], "date").dt.date()
        except (KeyError, TypeError, ValueError):
            raise src.error(
                "data", "(missing fields)", "total_market_cap.usd and updated_at"
            ) from None
        share = {c: (float(pct[c]) / 100.0 * total if c in pct else None) for c in ("btc", "eth")}
        return pl.DataFrame(
            {
                "date": when,
                "total_usd": [total],
                "btc_usd": [share["btc"]],
                "eth_usd": [share["eth"]],
                "line": [1],
            },
            schema=MARKET_CAP_SCHEMA,
        )
    chart = doc.get("market_cap_chart") if isinstance(doc, dict) else None
    points = chart.get("market_cap") if isinstance(chart, dict) else None
    if not isinstance(points, list) or not points:
        raise src.error("", "(JSON of another shape)", "one of the JSON formats")
    return daily_last(src, points, "total_usd").with_columns(
        pl.lit(None, pl.Float64).alias("btc_usd"), pl.lit(None, pl.Float64).alias("eth_usd")
    )


def daily_last(src: Source, points: list[Any], name: str) -> pl.DataFrame:
    """``[[unix ms, value], ...]`` as ``date``, ``name``, ``line`` (the point's 1-based
    position): the last point of each UTC day, a day ending at 24:00. A point is a snapshot at
    its time, so one at exactly 00:00 UTC (CoinGecko's daily points) is the value at the end of
    the day before and is dated that day, as every row of these schemas is (the value at the
    end of its day); a later point of the same day (the latest, "now") is the day so far."""
    for i, p in enumerate(points):
        ok = isinstance(p, list | tuple) and len(p) >= 2
        if not ok or not all(isinstance(x, int | float) for x in p[:2]):
            raise src.error(f"point {i + 1}", p, "a pair [unix ms, number]")
    frame = pl.DataFrame(
        {
            "date": epoch_to_utc([float(p[0]) - 1.0 for p in points], "date").dt.date(),
            name: [float(p[1]) for p in points],
            "line": list(range(1, len(points) + 1)),
        }
    )
    return frame.group_by("date", maintain_order=True).last().sort("date")
