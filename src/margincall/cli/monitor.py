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
    sources: Annotated[
        list[str],
        typer.Argument(help="files, run folders or ccxt:EXCHANGE:SYMBOL specs, merged on ts"),
    ],
    out: Annotated[Path, typer.Option(help="a new or empty folder for the report")],
    at: Annotated[
        str | None,
        typer.Option(help="report as of this UTC time: bars starting at or before it only"),
    ] = None,
    mapping: Annotated[
        str | None, typer.Option(help="column mapping for generic tables, e.g. close=Close,ts=Date")
    ] = None,
    symbol: Annotated[
        str | None, typer.Option(help="name used in the report (default: guessed)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print summary.json to stdout")] = False,
) -> None:
    """Market stress report: metrics.parquet, summary.json, report.md and report.html."""
    from margincall.monitor.bars import parse_mapping
    from margincall.monitor.report import check_out, write_monitor
    from margincall.monitor.summary import build

    check_out(out)
    with output_folder(out):
        result = build(sources, at=at, mapping=parse_mapping(mapping), symbol=symbol)
        write_monitor(out, result)
    if as_json:
        sys.stdout.write(json.dumps(result.summary) + "\n")
        return
    for line in result.summary["sentences"]:
        console.print(f"- {escape(line)}")
    for w in result.summary["warnings"]:
        console.print(f"[yellow]warning:[/] {escape(w['message'])}")
    console.print(f"monitor folder: {out} (metrics.parquet, summary.json, report.md, report.html)")
