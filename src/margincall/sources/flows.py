"""Spot ETF daily net flows: the Farside-style table (``date``, one column per fund, ``Total``;
US$ millions, negative = outflow), as CSV or Parquet, with an optional column mapping.

Schema (:class:`EtfFlows`), amounts in US dollars (the file's millions x 1e6):

- ``days``: ``date`` (Date, the US trading day), ``total_usd`` (Float64, the file's Total),
  ``line`` (Int64, the file's line);
- ``funds``: ``date``, ``fund`` (String, the column name), ``flow_usd`` (Float64), ``line``;
  one row per non-empty cell (an empty cell is no figure: a fund not yet launched).

Rules:

- **Holiday rows** (every fund empty and a Total of 0 or empty; Farside listed US holidays so
  until 2025-06-19) are dropped; their lines are kept in ``dropped``.
- A **Total** that differs from the funds' sum by more than :data:`TOTAL_TOLERANCE_M` is kept
  as published and reported in ``warnings`` with the lines; an empty Total with funds given
  is their sum (also warned).
- Dates must increase, each once. The asset (BTC, ETH, SOL) is given or read from the file
  name (its first token among :data:`ASSETS`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from margincall.sources.tables import Source, check_sorted_unique

ASSETS = ("BTC", "ETH", "SOL")
COLUMNS = ("date", "total")
"""The columns a mapping may name (``--etf-mapping``, ``--mapping FILE:..``, ``--sources``)."""
"""The assets whose ETFs a flows file may hold."""
TOTAL_TOLERANCE_M = 0.1
"""A Total further than this (US$ millions) from the funds' sum is warned about (each fund is
published to 0.1)."""
FORMATS = (
    "a Farside-style daily flows table (CSV or Parquet: date, one column per fund, Total; "
    "US$ millions), columns renamed by --etf-mapping date=...,total=...",
)


@dataclass
class EtfFlows:
    """One flows file read into the schema of the module docstring."""

    source: str
    asset: str
    days: pl.DataFrame
    funds: pl.DataFrame
    dropped: list[int] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)


def guess_asset(path: str | Path) -> str | None:
    """``BTC`` from ``farside_btc_etf_flows.csv`` (the first token of the name among
    :data:`ASSETS`), else None."""
    for token in Path(path).stem.upper().replace("-", "_").split("_"):
        if token in ASSETS:
            return token
    return None


def read_etf_flows(
    path: str | Path, asset: str | None = None, mapping: Mapping[str, str] | None = None
) -> EtfFlows:
    """Read a flows file (see the module docstring).

    Raises:
        InvalidInputError: the file is absent, empty, not UTF-8 or not a table; a mapping key is
            not ``date`` or ``total``; the date or Total column is missing; a cell is not a date
            or a number (names its line and column); dates repeat or go backwards; the asset
            is unknown.
    """
    src = Source(path, FORMATS)
    asset = (asset or guess_asset(path) or "").upper()
    if asset not in ASSETS:
        raise src.error("asset", asset or "(none in the file name)", f"one of {list(ASSETS)}")
    mapping = Source.check_keys(mapping, COLUMNS, "flows")
    raw = src.table()
    date_col = src.pick(raw, mapping, "date", ("date",), "date")
    total_col = src.pick(raw, mapping, "total", ("total",), "Total")
    fund_cols = [c for c in raw.columns if c not in (date_col, total_col)]
    if not fund_cols:
        raise src.error("fund columns", raw.columns, "at least one fund column besides the Total")
    wide = pl.DataFrame(
        [
            src.dates(raw, date_col),
            src.lines(raw.height),
            src.numbers(raw, total_col).alias("Total"),
            *(src.numbers(raw, c).alias(c) for c in fund_cols),
        ]
    )
    funds_given = pl.sum_horizontal(pl.col(fund_cols).is_not_null())
    holiday = (funds_given == 0) & (pl.col("Total").fill_null(0.0) == 0.0)
    dropped = wide.filter(holiday)["line"].to_list()
    wide = wide.filter(~holiday)
    check_sorted_unique(src, wide)
    fund_sum = pl.sum_horizontal(pl.col(fund_cols))
    wide = wide.with_columns(fund_sum.alias("_sum"), funds_given.alias("_n"))
    warnings: list[dict[str, Any]] = []
    empty_total = wide.filter(pl.col("Total").is_null())
    if empty_total.height:
        warnings.append(
            _warning(src, "total_missing", empty_total, "an empty Total (the funds' sum used)")
        )
    off = wide.filter(
        pl.col("Total").is_not_null()
        & ((pl.col("Total") - pl.col("_sum")).abs() > TOTAL_TOLERANCE_M + 1e-9)
    )
    if off.height:
        detail = ", ".join(
            f"line {r['line']} ({r['date']}: Total {r['Total']:,.1f}, funds {r['_sum']:,.1f})"
            for r in off.head(5).iter_rows(named=True)
        )
        warnings.append(
            _warning(
                src, "total_mismatch", off, f"a Total that differs from the funds' sum: {detail}"
            )
        )
    days = wide.select(
        "date",
        (pl.coalesce("Total", "_sum") * 1e6).alias("total_usd"),
        "line",
    )
    funds = (
        wide.unpivot(index=["date", "line"], on=fund_cols, variable_name="fund", value_name="m")
        .drop_nulls("m")
        .select("date", "fund", (pl.col("m") * 1e6).alias("flow_usd"), "line")
        .sort("line", "fund", maintain_order=True)
    )
    return EtfFlows(str(path), asset, days, funds, dropped, warnings)


def _warning(src: Source, kind: str, rows: pl.DataFrame, what: str) -> dict[str, Any]:
    lines = rows["line"].to_list()
    return {
        "kind": kind,
        "column": "Total",
        "rows": lines,
        "message": f"{src.path.name}: {len(lines)} row(s) with {what}; lines {lines[:10]}",
    }
