"""The bars a monitor report reads: its sources read and merged on ``ts``, then cut at ``--at``.

- **Several sources** are merged on ``ts``: each source must have unique timestamps; the merged
  frame has every timestamp of any source, sorted, and each value column is taken from the
  first source (in the order given) that has a non-null value at that time. So put the price
  source first and a derivatives panel after it, or the other way round to prefer the panel's
  prices. One source is kept as it is (rows in the file's order, nothing dropped or sorted).
- **As of** ``--at``: only bars whose start ``ts`` is at or before ``at`` are used (the report
  is as of the close of the bar that starts at ``at``); ``at`` must lie between the first and
  the last bar start. Without ``--at`` the last bar's start is ``at``.
- **Run folders** are read as hourly bars when that gives at least
  :data:`~margincall.monitor.indicators.MIN_ROWS` hours, otherwise as the run's own (minute)
  bars, so a short simulated crash still has its indicators; ``summary["bar"]`` says which.
  A market run folder gives the bars of one (venue, instrument), named by ``--venue`` and
  ``--instrument`` (:mod:`margincall.sources.market_run`); the source's entry names them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from margincall.core.errors import InvalidInputError
from margincall.monitor.indicators import MIN_ROWS
from margincall.monitor.ingest import read_run_folder, read_source
from margincall.monitor.metrics import iso
from margincall.monitor.schema import BAR_SCHEMA, VALUE_COLUMNS
from margincall.monitor.source_list import Mappings
from margincall.sources.market_run import MarketPick


def parse_at(text: str | datetime | None) -> datetime | None:
    """``--at`` as an aware UTC datetime (naive text is UTC)."""
    if text is None or isinstance(text, datetime):
        when = text
    else:
        s = str(text).strip()
        try:
            when = datetime.fromisoformat(s[:-1] + "+00:00" if s.endswith(("Z", "z")) else s)
        except ValueError:
            raise InvalidInputError(
                "--at", text, "an ISO 8601 time, e.g. 2026-02-06T01:00:00Z"
            ) from None
    if when is None:
        return None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def parse_mapping(text: str | None, option: str = "--mapping") -> dict[str, str] | None:
    """``col=name,col2=name2`` as ``{canonical: file column}``."""
    if not text:
        return None
    out: dict[str, str] = {}
    for part in text.split(","):
        key, sep, value = part.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise InvalidInputError(option, text, "canonical=column pairs, e.g. close=Close")
        out[key.strip()] = value.strip()
    return out


def _read(source: str | Path, mappings: Mappings, pick: MarketPick) -> tuple[pl.DataFrame, str]:
    path = Path(source)
    if not str(source).startswith("ccxt:") and (path / "candles.parquet").is_file():
        hourly = read_run_folder(path, hourly=True, pick=pick)
        if hourly.height >= MIN_ROWS:
            return hourly, "1h (run folder aggregated to hours)"
        bars = read_run_folder(path, hourly=False, pick=pick)
        return bars, "the run's own bars (fewer than 34 hours)"
    return read_source(source, mappings.of(source, mappings.every)), "as in the source"


def load_sources(
    sources: Sequence[str | Path],
    mapping: Mapping[str, str] | Mappings | None = None,
    pick: MarketPick | None = None,
) -> tuple[pl.DataFrame, list[dict[str, Any]]]:
    """The bars of ``sources`` merged on ``ts`` (see the module docstring) and, per source, its
    name, rows, time range and the columns it provides. ``mapping`` names the columns of every
    generic table, or of each file (:class:`~margincall.monitor.source_list.Mappings`);
    ``pick`` the (venue, instrument) of every market run folder (a pick given with no market
    run folder among the sources is refused)."""
    mappings = Mappings.of_bars(mapping)
    pick = pick or MarketPick()
    if not sources:
        raise InvalidInputError("SOURCE", [], "at least one file, run folder or ccxt: spec")
    markets = pick.folders(sources)
    frames, info = [], []
    for src in sources:
        frame, bar = _read(src, mappings, pick)
        if frame.height == 0:
            raise InvalidInputError("source", str(src), "a source with at least one bar")
        provided = [c for c in VALUE_COLUMNS if frame[c].null_count() < frame.height]
        info.append(
            {
                "source": str(src),
                "rows": frame.height,
                "bar": bar,
                **_pair(src, pick, markets),
                "ts_from": iso(frame["ts"].min()),
                "ts_to": iso(frame["ts"].max()),
                "columns": provided,
            }
        )
        frames.append(frame)
    if len(frames) == 1:
        return frames[0], info
    for src, frame in zip(sources, frames, strict=True):
        dup = np.flatnonzero(frame["ts"].is_duplicated().to_numpy())
        if len(dup):
            raise InvalidInputError(
                f"{src}: ts",
                f"duplicated timestamps in rows {dup[:5].tolist()}",
                "unique bar times to merge several sources on ts",
            )
    all_ts = pl.concat([f.select("ts") for f in frames]).unique().sort("ts")
    merged = all_ts
    for i, frame in enumerate(frames):
        merged = merged.join(
            frame.rename({c: f"{c}__{i}" for c in VALUE_COLUMNS}), on="ts", how="left"
        )
    merged = merged.select(
        "ts",
        *(pl.coalesce([f"{c}__{i}" for i in range(len(frames))]).alias(c) for c in VALUE_COLUMNS),
    )
    return merged.select(list(BAR_SCHEMA)), info


def _pair(src: str | Path, pick: MarketPick, markets: list) -> dict[str, str]:
    """The venue and instrument read from ``src`` when it is a market run folder."""
    if src not in markets:
        return {}
    venue, symbol = pick.of(src)
    return {"venue": venue, "instrument": symbol}


def cut_at(bars: pl.DataFrame, at: datetime | None) -> tuple[pl.DataFrame, datetime]:
    """Bars with start at or before ``at`` (default: the last bar's start) and ``at`` itself."""
    first, last = bars["ts"].min(), bars["ts"].max()
    if at is None:
        return bars, last
    if not (first <= at <= last):
        raise InvalidInputError(
            "--at", iso(at), f"a time from {iso(first)} to {iso(last)} (the data's bar starts)"
        )
    return bars.filter(pl.col("ts") <= at), at
