"""The market stress summary behind ``margincall monitor``: sources merged, cut at ``--at``,
metrics per bar, headline figures with the rows they come from, what to watch, sentences.

Every figure in ``summary.json`` names the ``metrics.parquet`` rows it came from (rows are
0-based positions, also stored in the ``row`` column). The conventions live with the code that
follows them:

- reading, merging several sources on ``ts``, run folders, and ``--at``:
  :mod:`margincall.monitor.bars`;
- the metrics frame, row references and the 24 h window: :mod:`margincall.monitor.metrics`;
- the window, 24 h changes, liquidations, open interest, funding, sentiment and indicators:
  :mod:`margincall.monitor.headline`;
- clusters, support and the cascade if support breaks: :mod:`margincall.monitor.watch`;
- the sentences: :mod:`margincall.monitor.prose`;
- the daily market sections (market cap, ETF flows, assets, Fear & Greed), their files,
  ``--as-of`` and ``--since``: :mod:`margincall.monitor.daily` and the modules it names
  (:mod:`~margincall.monitor.market`, :mod:`~margincall.monitor.etf`,
  :mod:`~margincall.monitor.assets`, :mod:`~margincall.monitor.published`).

A report may have bars, daily sources or both; it has the sections of what it was given.
With ``--as-of DAY`` and no ``--at``, the bars are cut at the last bar starting before DAY
24:00 UTC; with bars and no ``--as-of``, the daily sections' day is the last whose end the
(hourly) bar at ``at`` reaches.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from margincall.core.errors import InvalidInputError
from margincall.monitor.bars import cut_at, load_sources, parse_at
from margincall.monitor.checks import check_bars
from margincall.monitor.daily import DailyData, DailyInputs
from margincall.monitor.headline import headline
from margincall.monitor.levels import watch_levels
from margincall.monitor.metrics import iso, metrics_frame
from margincall.monitor.prose import sentences
from margincall.monitor.resample import parse_timeframe, resample
from margincall.monitor.source_list import Mappings
from margincall.monitor.watch import panel_for_map, watch
from margincall.sources.market_run import MarketPick, asset_of, is_market_folder


@dataclass
class MonitorResult:
    """What ``margincall monitor`` writes: the per-bar metrics, the summary, the map levels."""

    metrics: pl.DataFrame | None  # None for a report of daily sources only
    summary: dict[str, Any]
    levels: Any  # MarketLevels or None
    lmap: Any  # LiquidationMap or None
    daily: DailyData | None = None  # the daily sources behind the daily sections


def guess_symbol(sources: Sequence[str | Path], pick: MarketPick | None = None) -> str:
    """A ticker from the first source's name (``btc_1h_...`` -> ``BTC``), else ``the market``;
    of a market run folder, the picked instrument's asset and venue (``ETH on cex``)."""
    first = str(sources[0])
    if not first.startswith("ccxt:") and is_market_folder(first):
        venue, symbol = (pick or MarketPick()).of(first)
        return f"{asset_of(symbol)} on {venue}"
    if first.startswith("ccxt:"):
        parts = first.split(":")
        return parts[2].split("?")[0].split("/")[0] if len(parts) > 2 else "the market"
    path = Path(first)
    manifest = path / "manifest.json"
    if manifest.is_file():
        import json

        try:
            sym = json.loads(manifest.read_text())["scenario"]["run"]["symbol"]
            return str(sym).removesuffix("USDT").removesuffix("USD") or str(sym)
        except (ValueError, KeyError, TypeError):
            pass
    token = path.stem.split("_")[0].split("-")[0]
    return token.upper() if token.isalpha() and 2 <= len(token) <= 6 else "the market"


def build(
    sources: Sequence[str | Path],
    at: str | datetime | None = None,
    mapping: Mapping[str, str] | Mappings | None = None,
    symbol: str | None = None,
    daily: DailyInputs | None = None,
    timeframe: str | None = None,
    pick: MarketPick | None = None,
) -> MonitorResult:
    """Everything ``margincall monitor`` reports (nothing is written here): the bar sections
    from ``sources`` and the daily sections from ``daily``, whichever are given; ``pick``
    names the (venue, instrument) of a market run folder among the sources.

    Raises:
        InvalidInputError: a source cannot be read or recognised, ``--at`` or ``--as-of`` is
            outside the data, too few bars remain for the indicators, or nothing is given.
    """
    from margincall.monitor.market_report import daily_sentences, daily_summary

    daily = daily or DailyInputs()
    if not sources and not daily.any():
        raise InvalidInputError(
            "SOURCE",
            [],
            "at least one bar source or one of --etf-flows, --market-cap, --closes, --fear-greed",
        )
    if timeframe is not None:
        parse_timeframe(timeframe)
    if pick is not None:
        pick.folders(sources)
    result = _build_bars(sources, at, mapping, symbol, daily, timeframe, pick) if sources else None
    if not daily.any():
        assert result is not None
        return result
    bars = result.metrics if result is not None else None
    if result is not None and daily.as_of is None:
        daily = replace(daily, as_of=_last_full_day(result.summary["at"]))
    d, data = daily_summary(daily, bars, result.summary["symbol"] if result else None)
    if result is None:
        d["sentences"] = daily_sentences(d)
        return MonitorResult(None, d, None, None, data)
    result.daily = data
    s = result.summary
    s["daily"] = d
    if s["watch"] is not None:
        s["watch"]["levels"] = watch_levels(result.metrics, result.lmap, s["symbol"], d)
    s["warnings"] = d["warnings"] + s["warnings"]
    s["sentences"] = daily_sentences(d) + s["sentences"]
    return result


def _build_bars(
    sources: Sequence[str | Path],
    at: str | datetime | None,
    mapping: Mapping[str, str] | Mappings | None,
    symbol: str | None,
    daily: DailyInputs,
    timeframe: str | None = None,
    pick: MarketPick | None = None,
) -> MonitorResult:
    from margincall.estimate.market_map import build_levels, map_at

    when = parse_at(at)
    bars, info = load_sources(sources, mapping, pick)
    if when is None and daily.as_of is not None:
        when = _end_of_day(bars, daily.as_of)
    bars, when = cut_at(bars, when)
    warnings = check_bars(bars)
    complete = None
    if timeframe is not None:
        bars = resample(bars, timeframe)
        complete, bars = bars["complete"], bars.drop("complete")
        when = bars["ts"].max()
    m = metrics_frame(bars)
    if complete is not None:
        m = m.with_columns(complete)
    s: dict[str, Any] = {
        "symbol": symbol or guess_symbol(sources, pick),
        "at": iso(when),
        "as_of": "bars whose start is at or before `at` (the close of the bar starting at `at`)",
        "window": "the whole loaded history up to `at`",
        "h24": "bars with start in (at - 24 h, at]",
        "rows": m.height,
        "sources": info,
        "merge": "outer join on ts; each column from the first source with a value"
        if len(info) > 1
        else "one source, rows as given",
        "units": {
            "prices": "USD",
            "notional": "USD",
            "funding": "fraction per 8 h (0.0001 = 0.01%)",
            "changes": "fractions (0.1 = 10%)",
            "rows": "0-based rows of metrics.parquet (column row)",
        },
    }
    s |= headline(m, when)
    s["warnings"] = [
        {"kind": w.kind, "column": w.column, "rows": list(w.rows), "message": w.message}
        for w in warnings
    ]
    if timeframe is not None:
        s["timeframe"] = {"bars": timeframe, "last_bar_complete": bool(complete[-1])}
        if not complete[-1]:
            s["warnings"].append(
                {
                    "kind": "incomplete_bar",
                    "column": "ts",
                    "rows": [m.height - 1],
                    "message": f"the last {timeframe} bar (row {m.height - 1}, starting "
                    f"{iso(when)}) is incomplete: the source's bars end before its end",
                }
            )
    panel = panel_for_map(m)
    levels = lmap = None
    if panel is not None:
        levels = build_levels(panel)
        lmap = map_at(levels, None)
        s["watch"] = watch(levels, lmap, m, when)
        s["watch"]["levels"] = watch_levels(m, lmap, s["symbol"], None)
    else:
        s["watch"] = None
    s["sentences"] = sentences(s)
    return MonitorResult(m, s, levels, lmap)


def _end_of_day(bars: pl.DataFrame, day: date) -> datetime:
    """The start of the last bar on or before ``day`` 24:00 UTC (``--as-of`` for bars)."""
    end = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)
    before = bars.filter(pl.col("ts") < end)
    if before.height == 0:
        raise InvalidInputError(
            "--as-of", str(day), f"a day on or after the bars' first day {iso(bars['ts'].min())}"
        )
    return before["ts"].max()


def _last_full_day(at: str) -> date:
    """The last UTC day whose end the bar starting at ``at`` (an hour) reaches: the daily
    sections' day when only ``--at`` is given, so no daily row is later than the bars."""
    end = datetime.fromisoformat(at.replace("Z", "+00:00")) + timedelta(hours=1)
    return end.date() - timedelta(days=1)
