"""The ``margincall`` command.

Every command reports bad input with a message naming the value and what was expected, and
exits with status 2.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from margincall import __version__
from margincall.core.compile_notice import cold_cache_notice, compiling_notice
from margincall.core.errors import InvalidInputError

app = typer.Typer(
    name="margincall",
    help="Simulate, estimate and watch liquidation cascades in leveraged crypto markets.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err = Console(stderr=True)


def _fail(exc: Exception) -> None:
    # not wrapped at the terminal's width (a path stays whole) and not read as markup
    err.print(f"[bold red]error:[/] {escape(str(exc))}", soft_wrap=True)
    raise typer.Exit(2)


def _version(value: bool) -> None:
    if value:
        console.print(f"margincall {__version__}")
        raise typer.Exit(0)


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", help="Print the version and exit.", is_eager=True, callback=_version
        ),
    ] = False,
) -> None:
    """Simulate, estimate and watch liquidation cascades in leveraged crypto markets."""


@app.command()
def rulebooks() -> None:
    """List the packaged exchange rulebooks, one line each."""
    from margincall.venue.instrument import RULEBOOKS, load_rulebook

    table = Table(title="Rulebooks", show_lines=False)
    for col in (
        "name",
        "mark",
        "liquidation",
        "ADL ranking",
        "instruments",
        "BTCUSDT max leverage",
    ):
        table.add_column(col)
    for name in RULEBOOKS:
        rb = load_rulebook(name)
        btc = rb.instrument("BTCUSDT")
        table.add_row(
            name,
            rb.mark,
            str(rb.liquidation["policy"]),
            rb.adl_ranking,
            ", ".join(rb.symbols),
            f"{btc.tiers[0].max_leverage}x",
        )
    console.print(table)


@app.command("liquidation-price")
def liquidation_price(
    side: Annotated[str, typer.Option(help="long or short")],
    qty: Annotated[
        float, typer.Option(help="position size in the base currency (BTC for BTCUSDT)")
    ],
    entry: Annotated[float, typer.Option(help="entry price, USD")],
    wallet: Annotated[float, typer.Option(help="isolated margin (wallet balance), USD")],
    rulebook: Annotated[str, typer.Option(help="binance, bitmex, dydx or hyperliquid")] = "binance",
    symbol: Annotated[str, typer.Option(help="instrument")] = "BTCUSDT",
) -> None:
    """Liquidation and bankruptcy price of an isolated one-way position under a rulebook's tiers."""
    from margincall.venue import margin
    from margincall.venue.instrument import load_rulebook

    try:
        inst = load_rulebook(rulebook).instrument(symbol)
        floors = [float(t.floor_usd) for t in inst.tiers]
        rates = [float(t.mmr) for t in inst.tiers]
        lp = margin.binance_liquidation_price_tiered(side, qty, entry, wallet, floors, rates)
        bp = margin.bankruptcy_price(side, qty, entry, wallet)
    except InvalidInputError as exc:
        _fail(exc)
        return
    table = Table()
    table.add_column("price")
    table.add_column("USD", justify="right")
    table.add_row("liquidation", "none" if lp != lp else f"{lp:,.2f}")
    table.add_row("bankruptcy", "none" if bp != bp else f"{bp:,.2f}")
    console.print(table)
    console.print(
        f"{rulebook} {symbol}: {side} {qty} at {entry:,.2f} with {wallet:,.2f} USD of isolated margin"
    )


@app.command()
@compiling_notice(console)
def demo(
    accounts: Annotated[int, typer.Option(help="leveraged accounts")] = 200_000,
    rulebook: Annotated[str, typer.Option(help="binance, bitmex, dydx or hyperliquid")] = "binance",
    drop: Annotated[float, typer.Option(help="total index drop, as a fraction")] = 0.15,
    steps: Annotated[int, typer.Option(help="price steps")] = 30,
    seed: Annotated[int, typer.Option(help="seed of the account population")] = 7,
    out: Annotated[
        Path | None, typer.Option(help="write events.parquet and summary.json here")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json/--table", help="print the steps as JSON lines")
    ] = False,
) -> None:
    """Drop the index through a leveraged market and watch the venue liquidate it, step by step."""
    from margincall.demo import build_market, check_drop, price_drop

    if out is not None and out.exists() and any(out.iterdir()):
        _fail(InvalidInputError("out", str(out), "a new or empty folder"))
    t0 = time.perf_counter()
    try:
        check_drop(drop, steps)
        with console.status(
            f"opening {accounts:,} accounts on {rulebook} (the first run also compiles the engine)..."
        ):
            v, mm = build_market(
                accounts, rulebook=rulebook, seed=seed, keep_events=out is not None
            )
        rows = list(price_drop(v, mm, drop=drop, steps=steps))
    except InvalidInputError as exc:
        _fail(exc)
        return
    v.check_invariants()
    elapsed = time.perf_counter() - t0
    summary = {
        "rulebook": rulebook,
        "accounts": accounts,
        "seed": seed,
        "steps": len(rows),
        "liquidated_accounts": sum(r.liquidated_accounts for r in rows),
        "liquidation_attempts": sum(r.attempts for r in rows),
        "liquidated_long_usd": round(sum(r.liquidated_long_usd for r in rows), 2),
        "liquidated_short_usd": round(sum(r.liquidated_short_usd for r in rows), 2),
        "fund_takeovers": sum(r.takeovers for r in rows),
        "adl_executions": sum(r.adl for r in rows),
        "insurance_fund_usd": rows[-1].insurance_fund_usd if rows else None,
        "events": len(v.log),
        "event_log_sha256": v.digest(),
        "wall_seconds": round(elapsed, 2),
    }
    if out is not None:
        from margincall.events.log import write_parquet

        out.mkdir(parents=True, exist_ok=True)
        meta = {
            "tick_size": str(v.scale.tick_size),
            "lot_size": str(v.scale.lot_size),
            "rulebook": rulebook,
            "symbol": "BTCUSDT",
            "seed": str(seed),
        }
        write_parquet(v.log.records(), out / "events.parquet", meta)
        (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    if as_json:
        for r in rows:
            sys.stdout.write(json.dumps(asdict(r)) + "\n")
        sys.stdout.write(json.dumps(summary) + "\n")
        return
    table = Table(title=f"{rulebook}: index -{drop:.0%} in {steps} steps, {accounts:,} accounts")
    for col in (
        "step",
        "index",
        "liquidated",
        "long $M",
        "short $M",
        "takeovers",
        "ADL",
        "rounds",
        "fund $M",
    ):
        table.add_column(col, justify="right")
    shown = rows if len(rows) <= 30 else rows[:: max(1, len(rows) // 30)]
    for r in shown:
        table.add_row(
            str(r.step),
            f"{r.index_price:,.0f}",
            f"{r.liquidated_accounts:,}",
            f"{r.liquidated_long_usd / 1e6:,.2f}",
            f"{r.liquidated_short_usd / 1e6:,.2f}",
            f"{r.takeovers:,}",
            f"{r.adl:,}",
            str(r.rounds),
            f"{r.insurance_fund_usd / 1e6:,.2f}",
        )
    console.print(table)
    console.print(
        f"[bold]{summary['liquidated_accounts']:,}[/] accounts liquidated; forced closes "
        f"${summary['liquidated_long_usd']:,.0f} long, ${summary['liquidated_short_usd']:,.0f} short; "
        f"{summary['events']:,} events (sha256 {summary['event_log_sha256'][:16]}...) in {elapsed:.1f} s"
    )


def main() -> None:  # pragma: no cover - console entry
    app()


@app.command()
def scenarios() -> None:
    """List the scenario presets, one line each."""
    from margincall.sim.scenario import preset_summaries

    table = Table(title="Scenario presets")
    table.add_column("name")
    table.add_column("description")
    for name, text in preset_summaries():
        table.add_row(name, text)
    console.print(table)


scenario_app = typer.Typer(
    help="Scenario presets: show one to copy and edit.", no_args_is_help=True
)
app.add_typer(scenario_app, name="scenario")


@scenario_app.command("show")
def scenario_show(name: Annotated[str, typer.Argument(help="a preset name")]) -> None:
    """Print a preset's TOML (save it, edit it, pass the file to `margincall simulate`)."""
    from margincall.sim.scenario import preset_text

    try:
        text = preset_text(name)
    except InvalidInputError as exc:
        _fail(exc)
        return
    sys.stdout.write(text)


@app.command()
@compiling_notice(err)
def simulate(
    scenario: Annotated[str, typer.Argument(help="a preset name or a scenario TOML file")],
    seed: Annotated[int, typer.Option(help="seed of every random draw in the run")] = 1,
    hours: Annotated[float | None, typer.Option(help="simulated hours (default: scenario)")] = None,
    accounts: Annotated[
        int | None,
        typer.Option(help="leveraged accounts: how finely the market is divided, not its size"),
    ] = None,
    rulebook: Annotated[
        str | None, typer.Option(help="binance, bitmex, dydx, hyperliquid (default: scenario)")
    ] = None,
    out: Annotated[Path | None, typer.Option(help="run folder to write")] = None,
    force: Annotated[bool, typer.Option(help="replace an existing --out folder")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the summary as JSON")] = False,
) -> None:
    """Run a scenario through the agents and the venue; print its summary, write its run folder."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from margincall.sim.run_folder import check_out_dir, to_jsonable, write_run
    from margincall.sim.run_folder import simulate as run_sim
    from margincall.sim.scenario import load_scenario

    try:
        sc = load_scenario(scenario).with_overrides(
            hours=hours, accounts=accounts, rulebook=rulebook
        )
        if (
            sc.run.rulebook not in ("binance", "bitmex", "dydx", "hyperliquid")
            and not Path(sc.run.rulebook).is_file()
        ):
            raise InvalidInputError(
                "rulebook", sc.run.rulebook, "binance, bitmex, dydx, hyperliquid or a TOML file"
            )
        if out is not None:
            check_out_dir(out, force)
    except InvalidInputError as exc:
        _fail(exc)
        return
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[clock]}"),
        TextColumn("liquidations {task.fields[liq]:,}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err, transient=True, disable=as_json) as bar:
        task = bar.add_task(f"{sc.name} seed {seed}", total=1.0, clock="setting up", liq=0)

        def progress(step: int, steps: int, liq: int) -> None:
            h = step / steps * sc.run.hours
            bar.update(task, completed=step / steps, clock=f"{h:5.1f} h simulated", liq=liq)

        try:
            if out is not None:
                summary = write_run(out, sc, seed, force=force, progress=progress)
            else:
                summary = run_sim(sc, seed, progress)[1]
        except InvalidInputError as exc:
            _fail(exc)
            return
    summary = to_jsonable(summary)
    if as_json:
        sys.stdout.write(json.dumps(summary) + "\n")
        return
    _print_summary(summary, out)


def _print_summary(s: dict, out: Path | None) -> None:
    def usd(x: float | None) -> str:
        if x is None:
            return "-"
        return f"${x / 1e9:,.2f}B" if abs(x) >= 1e9 else f"${x / 1e6:,.1f}M"

    p, liq, oi, fund = (
        s["price"],
        s["liquidations"],
        s["open_interest_usd"],
        s["insurance_fund_usd"],
    )
    table = Table(
        title=f"{s['scenario']}: {s['hours']:g} h, {s['accounts']:,} accounts, "
        f"{s['rulebook']}, seed {s['seed']}"
    )
    table.add_column("figure")
    table.add_column("value", justify="right")
    total = liq["total_usd"] or 0.0
    long_share = liq["long_usd"] / total if total else 0.0
    rows = [
        ("price start -> end", f"{p['start']:,.0f} -> {p['end']:,.0f}"),
        ("price low (time)", f"{p['min']:,.0f} ({p['min_ts']})"),
        ("liquidated, long / short", f"{usd(liq['long_usd'])} / {usd(liq['short_usd'])}"),
        ("long share", f"{long_share:.0%}"),
        ("accounts liquidated", f"{liq['accounts']:,}"),
        ("largest liquidation", usd(liq["largest_usd"])),
        ("peak hour", usd(liq["peak_hour_usd"])),
        ("open interest", f"{usd(oi['start'])} -> {usd(oi['end'])}"),
        ("insurance fund (min)", f"{usd(fund['end'])} ({usd(fund['min'])})"),
        ("ADL events", f"{s['adl']['events']:,}"),
        (
            "funding min / max",
            f"{s['funding_rate']['min']:.4%} / {s['funding_rate']['max']:.4%}"
            if s["funding_rate"]["min"] is not None
            else "-",
        ),
        (
            "money conserved, OI balanced",
            f"{s['invariants']['money_conserved']}, {s['invariants']['open_interest_balanced']}",
        ),
        ("wall time", f"{s['wall_seconds']:.1f} s"),
    ]
    for k, v in rows:
        table.add_row(k, v)
    console.print(table)
    if out is not None:
        console.print(f"run folder: {out} (report.html, summary.json, events.parquet, ...)")


@app.command()
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

    try:
        prep = runner.prepare(
            spec, out, workers=workers, backend=backend, address=address, retry_failed=retry_failed
        )
    except InvalidInputError as exc:
        _fail(exc)
        return
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


runs_app = typer.Typer(
    help="Query and plot a sweep's results store (the view runs).", no_args_is_help=True
)
app.add_typer(runs_app, name="runs")


@runs_app.command("query")
def runs_query(
    folder: Annotated[Path, typer.Argument(metavar="DIR", help="a sweep output folder")],
    sql: Annotated[str, typer.Argument(help='SQL on the view runs, e.g. "SELECT * FROM runs"')],
    as_json: Annotated[bool, typer.Option("--json", help="print rows as JSON lines")] = False,
    limit: Annotated[int, typer.Option(min=1, help="print at most this many rows")] = 1000,
) -> None:
    """Run SQL (DuckDB) on a sweep's rows and print a table."""
    from margincall.store.db import query

    try:
        names, rows = query(folder, sql)
    except InvalidInputError as exc:
        _fail(exc)
        return
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


@runs_app.command("plot")
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

    try:
        path = plot_runs(folder, x, y, color=color, html_path=html)
    except InvalidInputError as exc:
        _fail(exc)
        return
    console.print(f"chart: {path}")


@app.command()
@compiling_notice(err)
def stress(
    scenario: Annotated[
        str | None, typer.Argument(help="a preset name or scenario TOML file (its start state)")
    ] = None,
    from_run: Annotated[
        Path | None, typer.Option("--from", help="a run folder (its start state)")
    ] = None,
    from_data: Annotated[
        Path | None, typer.Option("--from-data", help="a market-data file (estimated map)")
    ] = None,
    positions: Annotated[
        Path | None,
        typer.Option(help="a positions file: CSV/Parquet with side, qty, entry, wallet|leverage"),
    ] = None,
    shocks: Annotated[
        str, typer.Option(help="start:end:step and/or a list, e.g. -2%:-20%:1% or -5%,3%")
    ] = "-2%:-20%:1%",
    depth_scale: Annotated[
        str, typer.Option(help="depth multipliers, e.g. 1 or 0.5,1,2 (thinner < 1 < deeper)")
    ] = "1",
    leverage_scale: Annotated[
        str, typer.Option(help="leverage multipliers: level distances from the price / L")
    ] = "1",
    impact: Annotated[str, typer.Option(help="depth (book walk) or sqrt (square-root law)")] = (
        "depth"
    ),
    depth_1pct: Annotated[
        float | None,
        typer.Option(help="±1% depth in USD (default: the scenario's makers, else 20e6)"),
    ] = None,
    beta: Annotated[
        float | None,
        typer.Option(help="depth exponent D ~ delta^beta (default: the scenario's, else 0.55)"),
    ] = None,
    thinning: Annotated[
        float, typer.Option(help="depth / (1 + thinning x Q / D1) as Q is liquidated")
    ] = 0.3,
    refill: Annotated[
        float,
        typer.Option(
            help="share of the consumed depth makers restore before each cascade round "
            "(0 none, 1 a fresh book each round; depth impact only)"
        ),
    ] = 0.0,
    y: Annotated[float, typer.Option(help="sqrt law: Y")] = 0.7,
    sigma_daily: Annotated[float, typer.Option(help="sqrt law: daily volatility")] = 0.03,
    volume_daily: Annotated[float, typer.Option(help="sqrt law: daily volume, USD")] = 75e9,
    seed: Annotated[int, typer.Option(help="seed of the scenario's start state")] = 1,
    accounts: Annotated[int | None, typer.Option(help="scenario accounts override")] = None,
    rulebook: Annotated[
        str | None, typer.Option(help="rulebook (scenario override; positions file tiers)")
    ] = None,
    price: Annotated[float | None, typer.Option(help="reference price of a positions file")] = None,
    out: Annotated[Path | None, typer.Option(help="folder for stress.html and stress.json")] = None,
    force: Annotated[bool, typer.Option(help="replace an existing --out folder")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = False,
) -> None:
    """Stress a liquidation map: post-cascade move and liquidations for each shock."""
    from margincall.estimate import stress as st
    from margincall.report.stress import write_stress

    try:
        grid_shocks = st.parse_shocks(shocks)
        depths = st.parse_multipliers(depth_scale, "--depth-scale")
        levs = st.parse_multipliers(leverage_scale, "--leverage-scale")
        if impact not in ("depth", "sqrt"):
            raise InvalidInputError("--impact", impact, "depth or sqrt")
        if out is not None:
            from margincall.sim.run_folder import check_out_dir

            check_out_dir(out, force)
        for name, path in (
            ("--from", from_run),
            ("--from-data", from_data),
            ("--positions", positions),
        ):
            if path is not None and not path.exists():
                raise InvalidInputError(name, str(path), "an existing path")
        source = st.load_source(
            scenario,
            from_run,
            from_data,
            positions,
            seed=seed,
            accounts=accounts,
            rulebook=rulebook,
            price=price,
        )
        model = st.build_impact(
            impact,
            source,
            depth_1pct_usd=depth_1pct,
            beta=beta,
            thinning=thinning,
            refill=refill,
            y=y,
            sigma_daily=sigma_daily,
            volume_daily_usd=volume_daily,
        )
        result = st.run_stress(source, model, grid_shocks, depths, levs)
        if out is not None:
            write_stress(out, source.lmap, result)
    except InvalidInputError as exc:
        _fail(exc)
        return
    if as_json:
        sys.stdout.write(json.dumps(result) + "\n")
        return
    _print_stress(result, out)


def _print_stress(r: dict, out: Path | None) -> None:
    def usd(x: float) -> str:
        return f"${x / 1e9:,.2f}B" if abs(x) >= 1e9 else f"${x / 1e6:,.1f}M"

    a = r["assumptions"]
    several = len(a["depth_scales"]) > 1 or len(a["leverage_scales"]) > 1
    table = Table(title=f"stress: {a['source']} (reference {r['reference_price']:,.2f})")
    table.add_column("shock", justify="right")
    if several:
        table.add_column("depth x", justify="right")
        table.add_column("leverage x", justify="right")
    for name in ("final move", "price", "long liquidated", "short liquidated", "rounds"):
        table.add_column(name, justify="right")
    for row in r["rows"]:
        cells = [f"{row['shock']:+.2%}"]
        if several:
            cells += [f"{row['depth_scale']:g}", f"{row['leverage_scale']:g}"]
        rounds = f"{row['rounds']}" + ("" if row["converged"] else " (cap)")
        cells += [
            f"{row['final_move']:+.2%}",
            f"{row['price']:,.2f}",
            usd(row["long_liquidated_usd"]),
            usd(row["short_liquidated_usd"]),
            rounds,
        ]
        table.add_row(*cells)
    console.print(table)
    m, imp = a["map"], a["impact"]
    lines = [
        f"map: {a['source_kind']}; long {usd(r['long_total_usd'])}, short "
        f"{usd(r['short_total_usd'])} by liquidation price",
    ]
    if "leverage" in m and "weights" in m:
        pairs = ", ".join(
            f"{lv:g}x {w:.0%}" for lv, w in zip(m["leverage"], m["weights"], strict=False)
        )
        lines.append(f"  leverage weights: {pairs}")
    for key in ("map", "model", "rulebook", "collateral", "reference"):
        if key in m:
            lines.append(f"  {key}: {m[key]}")
    lines.append(f"impact: {imp.get('impact')}")
    for key, value in imp.items():
        if key != "impact":
            lines.append(f"  {key}: {value}")
    lines.append(f"model: {a['model']}")
    for side, c in r["critical_shock"].items():
        lines.append(
            f"critical shock ({side}): "
            + (
                f"{c['shock']:+.1%} (move {c['move_before']:.1%} -> {c['move_at']:.1%})"
                if c
                else "none up to 50%"
            )
        )
    bound = sum(1 for row in r["rows"] if not -0.999 < row["final_move"] < 9.999)
    if bound:
        lines.append(
            f"note: {bound} of {len(r['rows'])} shocks ran to the price bound: with instant "
            "impact and no refill the book cannot absorb the forced flow; --depth-scale sets "
            "how much the book refills during the move"
        )
    console.print("\n".join(lines), highlight=False, markup=False)
    if out is not None:
        console.print(f"written: {out}/stress.html, {out}/stress.json")


@app.command()
def forecast(
    from_data: Annotated[
        Path, typer.Option("--from-data", help="market-data file (CoinGlass CSV, generic, run)")
    ],
    out: Annotated[Path, typer.Option(help="new folder for forecast.parquet and summary.json")],
    as_json: Annotated[bool, typer.Option("--json", help="print the summary as JSON")] = False,
) -> None:
    """Hourly liquidation forecasts from the market-data map, scored against the naive baseline."""
    from margincall.estimate.forecast import run_forecast, write_forecast
    from margincall.estimate.panel import read_panel

    try:
        if out.exists() and (not out.is_dir() or any(out.iterdir())):
            raise InvalidInputError("out", str(out), "a new or empty folder")
        if not from_data.exists():
            raise InvalidInputError("from-data", str(from_data), "an existing data file")
        frame, summary = run_forecast(read_panel(from_data), source=str(from_data))
        write_forecast(out, frame, summary)
    except InvalidInputError as exc:
        _fail(exc)
        return
    if as_json:
        sys.stdout.write(json.dumps(summary) + "\n")
        return
    table = Table(title=f"forecast: {from_data.name}, {summary['rows']:,} hours (Spearman)")
    for col in ("window", "model long", "baseline long", "model short", "baseline short"):
        table.add_column(col, justify="right")

    def fmt(x: float | None) -> str:
        return "-" if x is None else f"{x:.3f}"

    for name, s in summary["spearman"].items():
        m, b = s["model"], s["baseline"]
        table.add_row(name, fmt(m["long"]), fmt(b["long"]), fmt(m["short"]), fmt(b["short"]))
    console.print(table)
    console.print(f"forecast folder: {out} (forecast.parquet, summary.json)")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="address to bind (localhost unless told otherwise)")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(help="TCP port", min=1, max=65535)] = 8000,
    runs: Annotated[Path, typer.Option(help="folder of run folders (created if missing)")] = Path(
        "runs"
    ),
    data: Annotated[
        Path | None, typer.Option(help="folder of market-data files for the monitor page")
    ] = None,
    max_sims: Annotated[
        int, typer.Option(help="simulations the dashboard may run at once", min=0, max=64)
    ] = 2,
) -> None:
    """The web dashboard: runs, replays, new runs, stress tests and monitor reports."""
    try:
        from margincall.web.app import serve as run_server
    except ImportError as exc:  # pragma: no cover - fastapi or uvicorn missing
        _fail(InvalidInputError("serve", str(exc), "fastapi and uvicorn installed"))
        return
    console.print(f"margincall dashboard on http://{host}:{port}/ (runs: {runs}, data: {data})")
    try:
        run_server(host, port, runs, data, max_sims)
    except InvalidInputError as exc:
        _fail(exc)


@app.command()
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
    from margincall.monitor.report import check_out, write_monitor
    from margincall.monitor.summary import build, parse_mapping

    try:
        check_out(out)
        result = build(sources, at=at, mapping=parse_mapping(mapping), symbol=symbol)
        write_monitor(out, result)
    except InvalidInputError as exc:
        _fail(exc)
        return
    if as_json:
        sys.stdout.write(json.dumps(result.summary) + "\n")
        return
    for line in result.summary["sentences"]:
        console.print(f"- {line}")
    for w in result.summary["warnings"]:
        console.print(f"[yellow]warning:[/] {w['message']}")
    console.print(f"monitor folder: {out} (metrics.parquet, summary.json, report.md, report.html)")


if __name__ == "__main__":  # pragma: no cover
    main()
