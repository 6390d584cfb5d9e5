"""What the dashboard reads: run folders under ``--runs``, data files under ``--data``, and the
estimator's liquidation maps, with small caches keyed by the files' modification times."""

from __future__ import annotations

import json
import math
import os
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from fastapi import HTTPException

from margincall.core.errors import InvalidInputError
from margincall.report.candles import COLUMNS as CANDLE_COLUMNS
from margincall.sources.market_run import MarketPick, market_venues, pair_candles
from margincall.web.safety import DATA_SUFFIXES, safe_path

SERIES_COLUMNS = tuple(c for c in CANDLE_COLUMNS if c not in ("ts", "long_short_account_ratio"))
"""Candle columns the replay plots (see :mod:`margincall.report.candles`)."""


MONITOR_COLUMNS = (
    "close",
    "oi_usd",
    "funding",
    "liq_long_usd",
    "liq_short_usd",
    "drawdown",
    "rsi_14",
    "sentiment",
)
"""Per-bar monitor metrics the monitor page plots (see :mod:`margincall.monitor.summary`)."""


class Cache:
    """A small thread-safe LRU of computed values."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._d: OrderedDict[Any, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Any, make) -> Any:
        with self._lock:
            if key in self._d:
                self._d.move_to_end(key)
                return self._d[key]
        value = make()
        with self._lock:
            self._d[key] = value
            while len(self._d) > self.size:
                self._d.popitem(last=False)
        return value


def clean(value: Any) -> Any:
    """JSON-safe: numpy scalars to Python numbers, NaN and infinities to ``None``."""
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    if isinstance(value, np.ndarray):
        return clean(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


class RunStore:
    """Run folders: one folder per run directly under ``root`` holding ``summary.json``. Every
    file is reached through :func:`~margincall.web.safety.safe_path`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._series = Cache(8)

    def file(self, name: str, file: str) -> Path:
        """The file ``file`` of run ``name``, resolved inside the runs folder, or a 404."""
        path = safe_path(self.root, name, file, what="run name")
        if not path.is_file():
            raise HTTPException(404, f"no run named {name!r} with {file} under the runs folder")
        return path

    def folder(self, name: str) -> Path:
        """The run folder ``name`` (resolved, holding ``summary.json``), or a 404."""
        self.file(name, "summary.json")
        return safe_path(self.root, name, what="run name")

    def names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if _served(self.file, p.name))

    def report_text(self, name: str) -> tuple[str, float]:
        """The ``report.md`` of a monitor folder under the runs folder and its modification
        time, read on every call (a watched folder's report is replaced in place, whole: never
        cached)."""
        path = self.file(name, "report.md")
        try:
            with path.open(encoding="utf-8") as handle:  # the file read is the one timed
                return handle.read(), os.fstat(handle.fileno()).st_mtime
        except (OSError, UnicodeDecodeError) as exc:
            raise HTTPException(422, f"run {name!r}: report.md cannot be read ({exc})") from None

    def summary(self, name: str) -> dict[str, Any]:
        path = self.file(name, "summary.json")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise HTTPException(422, f"run {name!r}: summary.json cannot be read ({exc})") from None
        if not isinstance(data, dict):
            raise HTTPException(422, f"run {name!r}: summary.json does not hold an object")
        return data

    def pairs(self, name: str) -> dict[str, list[str]] | None:
        """A market run's venues and their instruments (``None`` for a single-venue run)."""
        try:
            return market_venues(self.folder(name))
        except InvalidInputError as exc:
            raise HTTPException(422, f"run {name!r}: {exc}") from None

    def headline(self, name: str) -> dict[str, Any]:
        """A run's headline figures for the runs list."""
        s = self.summary(name)
        if isinstance(s.get("market"), dict):
            return clean(self._market_headline(name, s))
        price, liq = _dict(s.get("price")), _dict(s.get("liquidations"))
        start, low = _number(price.get("start")), _number(price.get("min"))
        drawdown = (low / start - 1) if start and low else None
        return clean(
            {
                "name": name,
                "scenario": s.get("scenario"),
                "seed": s.get("seed"),
                "hours": s.get("hours"),
                "accounts": s.get("accounts"),
                "rulebook": s.get("rulebook"),
                "price_start": start,
                "price_min": low,
                "price_end": price.get("end"),
                "max_drawdown": drawdown,
                "liquidated_long_usd": liq.get("long_usd"),
                "liquidated_short_usd": liq.get("short_usd"),
                "liquidated_accounts": liq.get("accounts"),
                "insurance_fund_min_usd": _dict(s.get("insurance_fund_usd")).get("min"),
                "adl_events": _dict(s.get("adl")).get("events"),
                "modified": _mtime(self.file(name, "summary.json")),
                "report": safe_path(self.root, name, "report.md").is_file(),
            }
        )

    def _market_headline(self, name: str, s: dict[str, Any]) -> dict[str, Any]:
        """A market run's row of the runs list: the whole market's liquidations (prices are
        per venue and instrument: see its replay)."""
        m, venues = _dict(s.get("market")), _dict(s.get("by_venue"))
        rulebooks = sorted({str(_dict(v).get("rulebook")) for v in venues.values()})
        return {
            "name": name,
            "scenario": s.get("scenario"),
            "seed": s.get("seed"),
            "hours": s.get("hours"),
            "accounts": s.get("accounts"),
            "rulebook": ", ".join(rulebooks),
            "market": True,
            "venues": list(venues),
            "liquidated_long_usd": m.get("long_usd"),
            "liquidated_short_usd": m.get("short_usd"),
            "liquidated_accounts": m.get("traders_liquidated"),
            "adl_events": sum(_number(_dict(v).get("adl_events")) or 0 for v in venues.values()),
            "modified": _mtime(self.file(name, "summary.json")),
            "report": False,
        }

    def series(
        self, name: str, venue: str | None = None, symbol: str | None = None
    ) -> dict[str, Any]:
        """The run's bars as columns (``ts`` in epoch milliseconds) and its ADL events; of a
        market run, those of one venue and instrument (default: the first venue, BTC), named
        in the answer. A venue or symbol the run does not have is a 400 naming the choices."""
        folder = self.folder(name)
        candles = self.file(name, "candles.parquet")
        try:
            events = self.file(name, "events.parquet")
        except HTTPException:
            events = None
        pair = None
        if self.pairs(name) is not None:
            pick = MarketPick(venue, symbol, venue_option="venue", instrument_option="symbol")
            pair = pick.of(folder)
        elif venue is not None or symbol is not None:
            raise HTTPException(
                400, f"run {name!r} is a single-venue run: it takes no venue or symbol"
            )
        key = (str(candles), _mtime(candles), str(events), events and _mtime(events), pair)
        try:
            return self._series.get(key, lambda: _read_series(candles, events, pair))
        except (OSError, pl.exceptions.PolarsError) as exc:
            raise HTTPException(
                422, f"run {name!r}: its parquet files cannot be read ({exc})"
            ) from None


def _served(file, name: str) -> bool:
    """Whether ``file(name, "summary.json")`` finds a served file."""
    try:
        file(name, "summary.json")
    except HTTPException:
        return False
    return True


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _number(value: Any) -> float | None:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    return float(value) if ok and math.isfinite(value) else None


def _read_series(
    candles: Path, events: Path | None, pair: tuple[str, str] | None = None
) -> dict[str, Any]:
    """The bars of ``candles`` as columns of numbers (anything else becomes null) and the ADL
    events of ``events``; of a market run, of the (venue, symbol) ``pair`` only."""
    from margincall.events.schema import TAKER, EventKind

    bars = pl.read_parquet(candles) if pair is None else pair_candles(candles.parent, *pair)
    if not isinstance(bars.schema.get("ts"), pl.Datetime):
        raise HTTPException(422, f"{candles.name}: 'ts' is not a timestamp column")
    ts = bars["ts"].dt.epoch("ms").to_list()
    out: dict[str, Any] = {"ts": ts, "bars": bars.height}
    if pair is not None:
        out["venue"], out["symbol"] = pair
    for col in SERIES_COLUMNS:
        if col in bars.columns:
            out[col] = clean(bars[col].cast(pl.Float64, strict=False).to_list())
    adl: dict[str, list] = {"ts": [], "price": [], "notional_usd": []}
    if events is not None:
        adl_rows = (pl.col("kind") == int(EventKind.ADL_EXECUTED)) & (pl.col("liquidity") == TAKER)
        if pair is not None:
            adl_rows &= (pl.col("venue").cast(pl.String) == pair[0]) & (
                pl.col("symbol").cast(pl.String) == pair[1]
            )
        frame = (
            pl.scan_parquet(events)
            .filter(adl_rows)
            .select(
                pl.col("ts_ns") // 1_000_000,
                pl.col("price_usd", "notional_usd").cast(pl.Float64, strict=False),
            )
            .collect()
        )
        adl = {
            "ts": frame["ts_ns"].to_list(),
            "price": clean(frame["price_usd"].to_list()),
            "notional_usd": clean(frame["notional_usd"].to_list()),
        }
    out["adl"] = adl
    return out


class DataStore:
    """Market-data files (CSV or Parquet) directly under ``root``."""

    def __init__(self, root: Path | None) -> None:
        self.root = root
        self._reports = Cache(4)

    def file(self, name: str) -> Path:
        if self.root is None:
            raise HTTPException(404, "no --data folder was given to the server")
        path = safe_path(self.root, name, what="data file name")
        if path.suffix.lower() not in DATA_SUFFIXES or not path.is_file():
            raise HTTPException(404, f"no data file {name!r} (.csv or .parquet) under --data")
        return path

    def names(self) -> list[dict[str, Any]]:
        if self.root is None or not self.root.is_dir():
            return []
        out = []
        for p in sorted(self.root.iterdir()):
            try:
                out.append({"name": p.name, "bytes": self.file(p.name).stat().st_size})
            except HTTPException:
                continue
        return out

    def report(self, name: str) -> dict[str, Any]:
        path = self.file(name)
        return self._reports.get((str(path), _mtime(path)), lambda: monitor_report(path))


def monitor_report(path: Path) -> dict[str, Any]:
    """The monitor report of one data file as JSON: its summary, the tables of the HTML report
    (label, value, note) and the per-bar metrics to plot."""
    from margincall.monitor import report as rp
    from margincall.monitor.summary import build

    result = build([path])
    s = result.summary
    m = result.metrics
    metrics: dict[str, Any] = {"ts": m["ts"].dt.epoch("ms").to_list()}
    for col in MONITOR_COLUMNS:
        if col in m.columns:
            metrics[col] = clean(m[col].to_list())
    return clean(
        {
            "name": path.name,
            "symbol": s.get("symbol"),
            "at": s.get("at"),
            "sentences": s.get("sentences", []),
            "tables": {
                "headline": [list(r) for r in rp.headline_rows(s)],
                "liquidations": [list(r) for r in rp.liquidation_rows(s)],
                "sentiment": [list(r) for r in rp.sentiment_rows(s)],
            },
            "watch": rp.watch_lines(s),
            "warnings": s.get("warnings", []),
            "conventions": rp.convention_lines(s),
            "metrics": metrics,
        }
    )
