"""Sweeps and their results store: run a study, query and plot its rows."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from margincall.cli.common import console, err, reading, writing
from margincall.core.compile_notice import cold_cache_notice
from margincall.core.errors import InvalidInputError


def sweep(
    spec: Annotated[Path, typer.Argument(help="a sweep spec TOML file (see README: sweeps)")],
    out: Annotated[Path, typer.Option(help="output folder; the same folder resumes the sweep")],
    workers: Annotated[
        int | None, typer.Option(min=1, help="parallel runs (default: spec, else CPU count)")
    ] = None,
    backend: Annotated[
        str | None, typer.Option(help="local (processes, default) or ray (default: spec)")
    ] = None,
    address: Annotated[
        str | None,
        typer.Option(help="Ray cluster: auto or HOST:PORT (default: start a local Ray)"),
    ] = None,
    retry_failed: Annotated[
        bool, typer.Option(help="run again the runs recorded as failed")
    ] = False,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="check the spec and count its runs; run and write nothing"),
    ] = False,
) -> None:
    """Run a parameter sweep or Monte Carlo study; resumable: rerun to finish what is missing."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from margincall.sweep import runner

    if dry_run:
        from margincall.sweep.spec import load_spec

        study = load_spec(spec)
        console.print(
            f"sweep {study.spec.name} ({study.spec.kind}): {len(study.runs):,} runs, "
            "spec valid; nothing run or written"
        )
        return
    with reading("--out", out):
        prep = runner.prepare(
            spec, out, workers=workers, backend=backend, address=address, retry_failed=retry_failed
        )
    total = len(prep.study.runs)
    before = total - len(prep.todo)
    engine = prep.backend
    err.print(
        f"sweep {prep.study.spec.name}: {total:,} runs, {before:,} already done"
        f"{' (resumed)' if prep.resumed else ''}; {len(prep.todo):,} to run on "
        f"{engine.name} with {engine.workers} workers -> {out}"
    )
    cold_cache_notice(err)
    columns = (
        TextColumn("[bold]runs"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("failed {task.fields[failed]:,}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )
    try:
        with Progress(*columns, console=err, transient=False) as bar:
            task = bar.add_task("runs", total=len(prep.todo), failed=0)

            def progress(o, run_id: str, status: str) -> None:
                bar.update(task, completed=o.ran, failed=o.failed)

            outcome = runner.run(prep, progress)
    except KeyboardInterrupt:
        from margincall.store.rows import finished

        err.print(
            f"[yellow]interrupted[/]: {len(finished(out)):,} of {total:,} runs have rows; "
            "run the same command again to resume"
        )
        raise typer.Exit(130) from None
    with reading("--out", out):
        _print_sweep(prep, outcome, before)
    if outcome.failed and outcome.ok == 0 and before == 0:
        raise typer.Exit(1)


def _print_sweep(prep, outcome, before: int) -> None:
    from margincall.store.db import query

    study = prep.study
    table = Table(title=f"sweep {study.spec.name}: {prep.out}")
    table.add_column("figure")
    table.add_column("value", justify="right")
    workers = prep.backend.workers
    per_core_hour = outcome.ran / (outcome.wall * workers / 3600) if outcome.wall > 0 else 0.0
    _, counts = query(prep.out, "SELECT status, count(DISTINCT run_id) FROM runs GROUP BY 1")
    status = dict(counts)
    rows = [
        ("runs in the study", f"{len(study.runs):,}"),
        ("done before this start", f"{before:,}"),
        ("ran now: ok / failed", f"{outcome.ok:,} / {outcome.failed:,}"),
        ("store: ok / failed", f"{status.get('ok', 0):,} / {status.get('failed', 0):,}"),
        ("wall time", f"{outcome.wall:,.1f} s on {workers} {prep.backend.name} workers"),
        ("runs per core-hour", f"{per_core_hour:,.0f}"),
    ]
    if study.spec.kind == "simulate" and status.get("ok"):
        _, ((mean, p95, adl, acc),) = query(
            prep.out,
            "SELECT avg(liquidations_total_usd), quantile_cont(liquidations_total_usd, 0.95), "
            "avg((adl_events > 0)::INT), avg(liquidations_accounts) FROM runs WHERE status = 'ok'",
        )
        rows += [
            ("liquidated per run: mean / p95", f"${mean / 1e6:,.1f}M / ${p95 / 1e6:,.1f}M"),
            ("runs with ADL", f"{adl:.1%}"),
            ("accounts liquidated per run (mean)", f"{acc:,.1f}"),
        ]
    for k, v in rows:
        table.add_row(k, v)
    console.print(table)
    for line in outcome.errors[:5]:
        err.print(f"[red]failed[/] {line}")
    if len(outcome.errors) > 5:
        err.print(f"... and {len(outcome.errors) - 5} more failed runs (status = 'failed')")
    console.print(f'query: margincall runs query {prep.out} "SELECT * FROM runs LIMIT 10"')


def runs_query(
    folder: Annotated[Path, typer.Argument(metavar="DIR", help="a sweep output folder")],
    sql: Annotated[str, typer.Argument(help='SQL on the view runs, e.g. "SELECT * FROM runs"')],
    as_json: Annotated[bool, typer.Option("--json", help="print rows as JSON lines")] = False,
    limit: Annotated[int, typer.Option(min=1, help="print at most this many rows")] = 1000,
) -> None:
    """Run SQL (DuckDB) on a sweep's rows and print a table."""
    from margincall.store.db import query

    if not sql.strip():
        raise InvalidInputError("SQL", sql, 'a query on the view runs, e.g. "SELECT * FROM runs"')
    with reading("DIR", folder):
        names, rows = query(folder, sql)
    if as_json:
        for r in rows[:limit]:
            sys.stdout.write(json.dumps(dict(zip(names, r, strict=True)), default=str) + "\n")
        return
    table = Table(title=f"{len(rows):,} rows")
    for n in names:
        table.add_column(n, overflow="fold")
    for r in rows[:limit]:
        table.add_row(
            *("" if v is None else f"{v:.6g}" if isinstance(v, float) else str(v) for v in r)
        )
    console.print(table)
    if len(rows) > limit:
        console.print(f"({len(rows) - limit:,} more rows; use LIMIT or --limit)")


def runs_plot(
    folder: Annotated[Path, typer.Argument(metavar="DIR", help="a sweep output folder")],
    x: Annotated[str, typer.Argument(help="column for the x axis")],
    y: Annotated[str, typer.Argument(help="column for the y axis")],
    color: Annotated[str | None, typer.Option(help="column grouping the points")] = None,
    html: Annotated[
        Path | None, typer.Option(help="HTML file to write (default: DIR/plot_X_Y.html)")
    ] = None,
) -> None:
    """Write a self-contained HTML chart of y against x over a sweep's ok runs."""
    from margincall.store.plot import plot_runs

    with reading("DIR", folder), writing("--html" if html else "DIR", html or folder):
        path = plot_runs(folder, x, y, color=color, html_path=html)
    console.print(f"chart: {path}")
