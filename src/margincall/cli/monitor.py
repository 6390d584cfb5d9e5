"""The market stress report."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from margincall.cli.common import (
    MarketInstrumentOption,
    MarketVenueOption,
    console,
    output_folder,
)
from margincall.core.errors import InvalidInputError


def monitor(
    out: Annotated[Path, typer.Option(help="a new or empty folder for the report")],
    sources: Annotated[
        list[str] | None,
        typer.Argument(help="bar files, run folders or ccxt:EXCHANGE:SYMBOL specs, merged on ts"),
    ] = None,
    at: Annotated[
        str | None,
        typer.Option(help="report as of this UTC time: bars starting at or before it only"),
    ] = None,
    mapping: Annotated[
        list[str] | None,
        typer.Option(
            help="columns of every generic bar table (close=Close,ts=Date), or of one file of "
            "any kind (FILE:close=Close); repeatable"
        ),
    ] = None,
    sources_file: Annotated[
        Path | None,
        typer.Option(
            "--sources", help="a TOML of [[source]] kind, path, symbol, columns (any kind)"
        ),
    ] = None,
    symbol: Annotated[
        str | None, typer.Option(help="name used in the report (default: guessed)")
    ] = None,
    venue: MarketVenueOption = None,
    instrument: MarketInstrumentOption = None,
    etf_flows: Annotated[
        list[str] | None,
        typer.Option(help="daily ETF flows table [ASSET=]FILE (Farside-style; repeatable)"),
    ] = None,
    etf_mapping: Annotated[
        str | None, typer.Option(help="flows columns, e.g. date=Day,total=Net")
    ] = None,
    market_cap: Annotated[
        str | None, typer.Option(help="daily total market cap (table or CoinGecko JSON)")
    ] = None,
    closes: Annotated[
        list[str] | None,
        typer.Option(help="daily closes [SYMBOL=]FILE (repeatable; date,close, klines, JSON)"),
    ] = None,
    closes_mapping: Annotated[
        str | None, typer.Option(help="closes columns, e.g. date=Day,close=Last")
    ] = None,
    fear_greed: Annotated[
        str | None, typer.Option(help="published Fear & Greed (alternative.me JSON or CSV)")
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option(help="report day YYYY-MM-DD: no row dated after it is read"),
    ] = None,
    since: Annotated[
        str | None, typer.Option(help="market-cap change and daily drain since this day")
    ] = None,
    live_fear_greed: Annotated[
        bool, typer.Option(help="fetch the Fear & Greed history from alternative.me")
    ] = False,
    live_market_cap: Annotated[
        bool, typer.Option(help="fetch the total market cap from CoinGecko /global")
    ] = False,
    live_market_cap_history: Annotated[
        bool,
        typer.Option(
            help="fetch a year of total market cap from CoinGecko /global/market_cap_chart "
            "(paid: key in $COINGECKO_PRO_API_KEY)"
        ),
    ] = False,
    live_closes: Annotated[
        list[str] | None,
        typer.Option(help="fetch daily closes from CoinGecko: SYMBOL or SYMBOL=coin-id"),
    ] = None,
    cache: Annotated[
        Path | None,
        typer.Option(help="folder of fetched responses (default ~/.cache/margincall/live)"),
    ] = None,
    live_retries: Annotated[
        int, typer.Option(min=0, max=10, help="retries of a live request (backoff 1, 2, 4 s)")
    ] = 3,
    timeframe: Annotated[
        str | None,
        typer.Option(help="resample the bar sources to 1h, 4h or 1d bars (from finer ones)"),
    ] = None,
    every: Annotated[
        str | None,
        typer.Option(help="watch: rewrite the report every 30s, 5m or 1h until Ctrl-C"),
    ] = None,
    alert: Annotated[
        Path | None,
        typer.Option(help='alert rules TOML: [alerts] name = "close < 60000" (alerts.jsonl)'),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print summary.json to stdout")] = False,
) -> None:
    """Market stress report: summary.json, report.md, report.html (and metrics.parquet with bars).

    Give bar SOURCES for the BTC derivatives sections and any of --market-cap, --etf-flows,
    --closes, --fear-greed for the daily market sections (or list them all, with their columns,
    in a --sources TOML); the report has the sections of what it is given. With --every the sources are re-read and the report rewritten in place until
    Ctrl-C; --alert rules append to alerts.jsonl when they first fire.
    """
    from margincall.monitor.alerts import Alerts, read_rules
    from margincall.monitor.bars import parse_mapping
    from margincall.monitor.daily import DailyInputs, LiveInputs, parse_day
    from margincall.monitor.refresh import (
        REPORT_NAMES,
        Refresher,
        keep_current,
        parse_every,
        stop_on_signals,
        watch_out_ok,
    )
    from margincall.monitor.report import check_out
    from margincall.monitor.resample import parse_timeframe
    from margincall.monitor.source_list import SourceList, parse_mappings, read_source_list
    from margincall.monitor.summary import build
    from margincall.sources.fetch import API_KEY_VARIABLE, Fetcher, default_cache
    from margincall.sources.market_run import MarketPick

    seconds = parse_every(every) if every is not None else None
    if timeframe is not None:
        parse_timeframe(timeframe)
    alerts = Alerts(read_rules(alert)) if alert is not None else None
    if seconds is None:
        check_out(out)
    elif not watch_out_ok(out, REPORT_NAMES):
        raise InvalidInputError(
            "--out", str(out), "a new or empty folder, or a monitor report's folder to rewrite"
        )
    listed = read_source_list(sources_file) if sources_file is not None else SourceList()
    daily = DailyInputs(
        etf_flows=etf_flows or (),
        market_cap=market_cap,
        closes=closes or (),
        fear_greed=fear_greed,
        flows_mapping=parse_mapping(etf_mapping, "--etf-mapping"),
        closes_mapping=parse_mapping(closes_mapping, "--closes-mapping"),
        as_of=parse_day(as_of, "--as-of"),
        since=parse_day(since, "--since"),
    )
    daily, bar_mapping = listed.merged_into(daily, parse_mappings(mapping or (), parse_mapping))
    bar_sources = [*(sources or ()), *listed.bars]
    pick = MarketPick(venue, instrument)
    pick.folders(bar_sources)  # checked before any folder is made
    symbol = symbol or listed.symbol
    live = LiveInputs(
        live_fear_greed, live_market_cap, tuple(live_closes or ()), live_market_cap_history
    )
    live.check(daily)
    key = os.environ.get(API_KEY_VARIABLE) or None
    fetcher = Fetcher(cache or default_cache(), key, retries=live_retries)
    refresher = Refresher(
        out,
        lambda: build(
            bar_sources,
            at=at,
            mapping=bar_mapping,
            symbol=symbol,
            daily=live.resolve(daily, fetcher),
            timeframe=timeframe,
            pick=pick,
        ),
        alerts,
        in_place=seconds is not None and out.is_dir() and any(out.iterdir()),
    )
    with output_folder(out):
        if seconds is not None:
            with stop_on_signals() as stop:
                done = keep_current(refresher, seconds, _say, stop=stop)
            _say(f"stopped after {done} refresh(es); {out} holds the last report written")
            return
        lines = refresher(1)
    result = refresher.last
    if as_json:
        sys.stdout.write(json.dumps(result.summary) + "\n")
        return
    for line in result.summary["sentences"]:
        console.print(f"- {escape(line)}", soft_wrap=True)
    for w in result.summary["warnings"]:
        console.print(f"[yellow]warning:[/] {escape(w['message'])}", soft_wrap=True)
    for line in lines[1:]:
        _say(line)
    files = "summary.json, report.md, report.html"
    if result.metrics is not None:
        files = "metrics.parquet, " + files
    if alerts is not None:
        files += ", alerts.jsonl"
    console.print(f"monitor folder: {out} ({files})", soft_wrap=True)


def _say(line: str) -> None:
    console.print(escape(line), soft_wrap=True, highlight=False)
