"""The market stress report."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from margincall.cli.common import console, output_folder


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
        str | None,
        typer.Option(help="column mapping for generic bar tables, e.g. close=Close,ts=Date"),
    ] = None,
    symbol: Annotated[
        str | None, typer.Option(help="name used in the report (default: guessed)")
    ] = None,
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
    as_json: Annotated[bool, typer.Option("--json", help="print summary.json to stdout")] = False,
) -> None:
    """Market stress report: summary.json, report.md, report.html (and metrics.parquet with bars).

    Give bar SOURCES for the BTC derivatives sections and any of --market-cap, --etf-flows,
    --closes, --fear-greed for the daily market sections; the report has the sections of what
    it is given.
    """
    from margincall.monitor.bars import parse_mapping
    from margincall.monitor.daily import DailyInputs, parse_day
    from margincall.monitor.report import check_out, write_monitor
    from margincall.monitor.summary import build

    check_out(out)
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
    with output_folder(out):
        result = build(
            sources or [], at=at, mapping=parse_mapping(mapping), symbol=symbol, daily=daily
        )
        write_monitor(out, result)
    if as_json:
        sys.stdout.write(json.dumps(result.summary) + "\n")
        return
    for line in result.summary["sentences"]:
        console.print(f"- {escape(line)}", soft_wrap=True)
    for w in result.summary["warnings"]:
        console.print(f"[yellow]warning:[/] {escape(w['message'])}", soft_wrap=True)
    files = "summary.json, report.md, report.html"
    if result.metrics is not None:
        files = "metrics.parquet, " + files
    console.print(f"monitor folder: {out} ({files})", soft_wrap=True)
