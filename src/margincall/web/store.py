"""What the dashboard reads: run folders under ``--runs``, data files under ``--data``, and the
estimator's liquidation maps, with small caches keyed by the files' modification times."""

from __future__ import annotations

import json
import math
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from fastapi import HTTPException

from margincall.report.candles import COLUMNS as CANDLE_COLUMNS
from margincall.web.safety import DATA_SUFFIXES, NAME_RE, under

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
    """Run folders: one folder per run directly under ``root`` holding ``summary.json``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._series = Cache(8)

    def folder(self, name: str) -> Path:
        """The run folder ``name``, or a 404."""
        path = under(self.root, name, "run name")
        if not (path / "summary.json").is_file():
            raise HTTPException(404, f"no run named {name!r} under the runs folder")
        return path

    def exists(self, name: str) -> bool:
        return (self.root / name).exists()

    def names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(
            p.name
            for p in self.root.iterdir()
            if NAME_RE.fullmatch(p.name) and (p / "summary.json").is_file()
        )

    def summary(self, name: str) -> dict[str, Any]:
        path = self.folder(name) / "summary.json"
        try:
            return json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise HTTPException(422, f"run {name!r}: summary.json cannot be read ({exc})") from None

    def headline(self, name: str) -> dict[str, Any]:
        """A run's headline figures for the runs list."""
        s = self.summary(name)
        price, liq = s.get("price", {}), s.get("liquidations", {})
        start, low = price.get("start"), price.get("min")
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
                "insurance_fund_min_usd": s.get("insurance_fund_usd", {}).get("min"),
                "adl_events": s.get("adl", {}).get("events"),
                "modified": _mtime(self.root / name / "summary.json"),
            }
        )

    def series(self, name: str) -> dict[str, Any]:
        """The run's bars as columns (``ts`` in epoch milliseconds) and its ADL events."""
        folder = self.folder(name)
        candles = folder / "candles.parquet"
        if not candles.is_file():
            raise HTTPException(404, f"run {name!r} has no candles.parquet")
        key = (str(folder), _mtime(candles))
        return self._series.get(key, lambda: self._read_series(folder))

    @staticmethod
    def _read_series(folder: Path) -> dict[str, Any]:
        from margincall.events.schema import EventKind

        bars = pl.read_parquet(folder / "candles.parquet")
        ts = bars["ts"].dt.epoch("ms").to_list()
        out: dict[str, Any] = {"ts": ts, "bars": bars.height}
        for col in SERIES_COLUMNS:
            if col in bars.columns:
                out[col] = clean(bars[col].to_list())
        adl: dict[str, list] = {"ts": [], "price": [], "notional_usd": []}
        events = folder / "events.parquet"
        if events.is_file():
            frame = (
                pl.scan_parquet(events)
                .filter(
                    (pl.col("kind") == int(EventKind.ADL_EXECUTED)) & (pl.col("liquidity") == 2)
                )
                .select("ts_ns", "price_usd", "notional_usd")
                .collect()
            )
            adl = {
                "ts": (frame["ts_ns"] // 1_000_000).to_list(),
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
        path = under(self.root, name, "data file name")
        if path.suffix.lower() not in DATA_SUFFIXES or not path.is_file():
            raise HTTPException(404, f"no data file {name!r} (.csv or .parquet) under --data")
        return path

    def names(self) -> list[dict[str, Any]]:
        if self.root is None or not self.root.is_dir():
            return []
        return [
            {"name": p.name, "bytes": p.stat().st_size}
            for p in sorted(self.root.iterdir())
            if p.is_file() and NAME_RE.fullmatch(p.name) and p.suffix.lower() in DATA_SUFFIXES
        ]

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
