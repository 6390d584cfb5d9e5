"""The daily market sources of the report (ETF flows, market cap, closes, Fear & Greed): which
files, read once through :mod:`margincall.sources`, cut at ``--as-of``, and how a figure names
the rows it came from.

- **As of** ``--as-of DAY``: every row dated after DAY is dropped before anything is computed
  (the files run months past the report day; nothing later may leak in). Without it, DAY is
  the earliest of the sources' last dates, so every section has that day.
- **Window**: the :data:`WINDOW_DAYS` days ending at DAY (peaks, highs and drawdowns are
  taken over it); ETF cumulative flows and holdings use every row since launch.
- **Rows**: a figure carries ``{"file", "lines"}`` (:func:`cite`): the file's name and the
  lines (1-based, header = line 1) of the rows it was computed from, a range when contiguous.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from margincall.core.errors import InvalidInputError
from margincall.monitor.source_list import Mappings
from margincall.sources.closes import check_symbol, daily_from_bars, read_closes, read_intraday
from margincall.sources.fear_greed import read_fear_greed
from margincall.sources.flows import EtfFlows, read_etf_flows
from margincall.sources.market_cap import read_market_cap

WINDOW_DAYS = 365
"""Days in the window of peaks, highs and drawdowns (ending at the report's day)."""
STALE_DAYS = 4
"""A source whose last row is more than this many days before the report day is warned about
(ETF flows skip weekends and US holidays: four days)."""


@dataclass
class DailyInputs:
    """The files of the daily sections, as given on the command line."""

    etf_flows: Sequence[str] = ()
    market_cap: str | None = None
    closes: Sequence[str] = ()
    fear_greed: str | None = None
    flows_mapping: Mapping[str, str] | None = None
    closes_mapping: Mapping[str, str] | None = None
    as_of: date | None = None
    since: date | None = None
    mappings: Mappings = field(default_factory=Mappings)  # per file, over the two above

    def any(self) -> bool:
        return bool(self.etf_flows or self.market_cap or self.closes or self.fear_greed)


@dataclass(frozen=True)
class LiveInputs:
    """Daily sources fetched live (:mod:`margincall.sources.fetch`) at every build."""

    fear_greed: bool = False
    market_cap: bool = False
    closes: Sequence[str] = ()  # SYMBOL or SYMBOL=coingecko-id
    market_cap_history: bool = False

    def any(self) -> bool:
        return bool(self.fear_greed or self.market_cap or self.closes or self.market_cap_history)

    def check(self, inputs: DailyInputs) -> None:
        """A source given both as a file and live is refused."""
        for live, given, option in (
            (self.fear_greed, inputs.fear_greed, "--fear-greed"),
            (self.market_cap, inputs.market_cap, "--market-cap"),
        ):
            if live and given:
                raise InvalidInputError(
                    f"{option} and {option.replace('--', '--live-')}", given, "one of the two"
                )
        if self.market_cap_history and (self.market_cap or inputs.market_cap):
            raise InvalidInputError(
                "--live-market-cap-history",
                inputs.market_cap or "--live-market-cap",
                "one market-cap source (not with --market-cap or --live-market-cap)",
            )

    def resolve(self, inputs: DailyInputs, fetcher: Any) -> DailyInputs:
        """``inputs`` with the live sources fetched (or taken from the cache) as files."""
        if not self.any():
            return inputs
        closes = [f"{sym}={path}" for sym, path in map(fetcher.closes, self.closes)]
        return replace(
            inputs,
            fear_greed=str(fetcher.fear_greed()) if self.fear_greed else inputs.fear_greed,
            market_cap=str(fetcher.market_cap_history())
            if self.market_cap_history
            else str(fetcher.market_cap())
            if self.market_cap
            else inputs.market_cap,
            closes=[*inputs.closes, *closes],
        )


@dataclass
class Series:
    """One file's rows in its schema, with the name it is cited by."""

    file: str
    frame: pl.DataFrame
    path: str = ""
    intraday: pl.DataFrame | None = None  # bars shorter than a day (kline closes files)


@dataclass
class DailyData:
    """The daily sources read and cut at ``as_of``."""

    as_of: date
    flows: list[tuple[EtfFlows, Series]] = field(default_factory=list)
    market_cap: Series | None = None
    closes: dict[str, Series] = field(default_factory=dict)
    fear_greed: Series | None = None
    warnings: list[dict[str, Any]] = field(default_factory=list)
    sources: list[dict[str, Any]] = field(default_factory=list)


def split_spec(spec: str) -> tuple[str | None, str]:
    """``BTC=path`` as ``("BTC", "path")``; a plain path as ``(None, path)``."""
    key, sep, rest = spec.partition("=")
    if sep and key and "/" not in key and not Path(spec).exists():
        return key, rest
    return None, spec


def parse_day(text: str | date | None, option: str) -> date | None:
    if text is None or isinstance(text, date):
        return text
    try:
        return date.fromisoformat(str(text).strip()[:10])
    except ValueError:
        raise InvalidInputError(option, text, "a day YYYY-MM-DD") from None


def load_daily(inputs: DailyInputs) -> DailyData:
    """Read every daily source and cut it at ``inputs.as_of`` (module docstring).

    Raises:
        InvalidInputError: a file cannot be read (see :mod:`margincall.sources`), a symbol or
            asset is unknown or given twice, or a source has no row on or before ``as_of``.
    """
    raw: list[tuple[str, Series, EtfFlows | None]] = []
    for spec in inputs.etf_flows:
        asset, path = split_spec(spec)
        flows = read_etf_flows(path, asset, inputs.mappings.of(path, inputs.flows_mapping))
        raw.append(("flows", Series(Path(path).name, flows.days, path), flows))
    if inputs.market_cap:
        path = inputs.market_cap
        frame = read_market_cap(path, inputs.mappings.of(path))
        raw.append(("market_cap", Series(Path(path).name, frame, path), None))
    seen: dict[str, str] = {}
    for spec in inputs.closes:
        sym, path = split_spec(spec)
        sym = check_symbol(sym, path)
        if sym in seen:
            raise InvalidInputError(f"--closes {sym}", path, f"one file per symbol ({seen[sym]})")
        seen[sym] = path
        mapping = inputs.mappings.of(path, inputs.closes_mapping)
        raw.append((f"closes:{sym}", _closes(path, mapping), None))
    if inputs.fear_greed:
        path = inputs.fear_greed
        frame = read_fear_greed(path, inputs.mappings.of(path))
        raw.append(("fear_greed", Series(Path(path).name, frame, path), None))
    day = inputs.as_of or min(s.frame["date"].max() for _, s, _ in raw)
    data = DailyData(as_of=day)
    assets: set[str] = set()
    for kind, series, flows in raw:
        cut = _cut(series, day)
        data.sources.append(
            {
                "kind": kind,
                "file": series.file,
                "rows": cut.frame.height,
                "from": str(cut.frame["date"].min()),
                "to": str(cut.frame["date"].max()),
                "rows_after_as_of_ignored": series.frame.height - cut.frame.height,
            }
        )
        stale = (day - cut.frame["date"].max()).days
        if stale > STALE_DAYS:
            data.warnings.append(
                {
                    "kind": "stale",
                    "column": "date",
                    "rows": [cut.frame["line"][-1]],
                    "message": f"{series.file}: its last row on or before {day} is "
                    f"{cut.frame['date'].max()}, {stale} days earlier",
                }
            )
        if flows is not None:
            if flows.asset in assets:
                raise InvalidInputError(
                    "--etf-flows", series.file, f"one file per asset ({flows.asset} twice)"
                )
            assets.add(flows.asset)
            flows.funds = flows.funds.filter(pl.col("date") <= day)
            flows.days = cut.frame
            data.flows.append((flows, cut))
            data.warnings += flows.warnings
        elif kind == "market_cap":
            data.market_cap = cut
        elif kind == "fear_greed":
            data.fear_greed = cut
        else:
            data.closes[kind.split(":", 1)[1]] = cut
    return data


def _closes(path: str, mapping: Mapping[str, str] | None) -> Series:
    """A closes file, or the bars of a ccxt spec (``ccxt:EXCHANGE:PAIR?timeframe=..&since=..``,
    any symbol the exchange lists) as daily closes; intraday bars kept for the 4-hour
    indicators."""
    if not path.startswith("ccxt:"):
        intraday = None if mapping else read_intraday(path)
        return Series(Path(path).name, read_closes(path, mapping), path, intraday)
    from margincall.monitor.live import read_live_spec

    bars = read_live_spec(path).sort("ts")
    step = bars["ts"].diff().drop_nulls().min()
    intraday = bars if isinstance(step, timedelta) and step < timedelta(days=1) else None
    return Series(path.partition("?")[0], daily_from_bars(bars), path, intraday)


def _cut(series: Series, day: date) -> Series:
    frame = series.frame.filter(pl.col("date") <= day)
    if frame.height == 0:
        first = series.frame["date"].min()
        raise InvalidInputError(
            f"{series.path or series.file}: date",
            f"no row on or before {day}",
            f"a report day (--as-of) on or after the file's first date {first}",
        )
    intraday = series.intraday
    if intraday is not None:
        end = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)
        intraday = intraday.filter(pl.col("ts") < end)
    return Series(series.file, frame, series.path, intraday)


def cite(series: Series, frame: pl.DataFrame) -> dict[str, Any]:
    """The file and lines of ``frame`` (rows of ``series`` with their ``line`` column)."""
    lines = sorted(set(frame["line"].to_list()))
    out: dict[str, Any] = {"file": series.file}
    if not lines:
        out["lines"] = "none"
    elif len(lines) == 1:
        out["lines"] = str(lines[0])
    elif lines[-1] - lines[0] + 1 == len(lines):
        out["lines"] = f"{lines[0]}-{lines[-1]}"
    elif len(lines) <= 5:
        out["lines"] = ", ".join(str(x) for x in lines)
    else:
        out["lines"] = f"{lines[0]}-{lines[-1]} ({len(lines)} rows)"
    return out


def row_on(frame: pl.DataFrame, day: date) -> pl.DataFrame:
    """The row dated ``day`` (empty when absent)."""
    return frame.filter(pl.col("date") == day)


def last_on_or_before(frame: pl.DataFrame, day: date) -> pl.DataFrame:
    """The latest row dated ``day`` or before (empty when none)."""
    return frame.filter(pl.col("date") <= day).tail(1)


def window(frame: pl.DataFrame, day: date) -> pl.DataFrame:
    """The rows of the :data:`WINDOW_DAYS` days ending at ``day``."""
    return frame.filter(pl.col("date") > day - timedelta(days=WINDOW_DAYS))
