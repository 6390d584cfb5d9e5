"""Simulations: a scenario through the agents and the venue, the presets, and the demo's
scripted price drop."""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from margincall.cli.common import (
    check_new_folder,
    console,
    err,
    output_folder,
    reading,
    usd_text,
)
from margincall.core.compile_notice import compiling_notice


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
    from margincall.sim.scripted_drop import build_market, check_drop, price_drop

    check_drop(drop, steps)
    if out is not None:
        check_new_folder(out)
    with output_folder(out):
        t0 = time.perf_counter()
        with console.status(
            f"opening {accounts:,} accounts on {rulebook} (the first run also compiles the engine)..."
        ):
            v, mm = build_market(
                accounts, rulebook=rulebook, seed=seed, keep_events=out is not None
            )
        rows = list(price_drop(v, mm, drop=drop, steps=steps))
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
            _write_demo(out, v, summary)
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


def _write_demo(out: Path, v, summary: dict) -> None:
    """``events.parquet`` and ``summary.json`` into ``out``, whole or not at all."""
    from margincall.core.atomic import atomic_folder
    from margincall.events.log import write_parquet

    meta = {
        "tick_size": str(v.scale.tick_size),
        "lot_size": str(v.scale.lot_size),
        "rulebook": summary["rulebook"],
        "symbol": "BTCUSDT",
        "seed": str(summary["seed"]),
    }
    with atomic_folder(out, replace=False) as tmp:
        write_parquet(v.log.records(), tmp / "events.parquet", meta)
        (tmp / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")


def scenarios() -> None:
    """List the scenario presets, one line each."""
    from margincall.sim.market import MARKET_PRESETS, load_market
    from margincall.sim.scenario import preset_summaries

    table = Table(title="Scenario presets")
    table.add_column("name")
    table.add_column("description")
    for name, text in preset_summaries():
        table.add_row(name, text)
    for name in MARKET_PRESETS:
        table.add_row(name, load_market(name).description)
    console.print(table)


def scenario_show(
    name: Annotated[str, typer.Argument(help="a preset name or a scenario TOML file")],
) -> None:
    """Print a preset's TOML (save it, edit it, pass the file to `margincall simulate`), or
    validate a scenario file (one venue, or a market with [[venues]]) and print it."""
    from margincall.sim.market import scenario_text

    sys.stdout.write(scenario_text(name))


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

    from margincall.sim.market import MarketScenario, load_any
    from margincall.sim.run_folder import check_out_dir, write_run
    from margincall.sim.run_folder import simulate as run_sim
    from margincall.venue.instrument import load_rulebook
    from margincall.venue.warm import compile_on_two_cores

    sc_any = load_any(scenario)
    if isinstance(sc_any, MarketScenario):
        _simulate_market(sc_any, seed, hours, accounts, rulebook, out, force, as_json)
        return
    sc = sc_any
    with reading("run.rulebook", rulebook or sc.run.rulebook):  # both read the rulebook file
        sc = sc.with_overrides(hours=hours, accounts=accounts, rulebook=rulebook)
        load_rulebook(sc.run.rulebook)  # a bad name or file is refused before anything runs
    if out is not None:
        check_out_dir(out, force)
    compile_on_two_cores()  # a first run: the kernels compile on both cores, then the run
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[clock]}"),
        TextColumn("liquidations {task.fields[liq]:,}"),
        TimeElapsedColumn(),
    )
    with Progress(
        *columns, console=err, transient=True, disable=as_json or not err.is_terminal
    ) as bar:
        task = bar.add_task(f"{sc.name} seed {seed}", total=1.0, clock="setting up", liq=0)

        def progress(step: int, steps: int, liq: int) -> None:
            h = step / steps * sc.run.hours
            bar.update(task, completed=step / steps, clock=f"{h:5.1f} h simulated", liq=liq)

        with output_folder(out):
            if out is not None:
                summary = write_run(out, sc, seed, force=force, progress=progress)
            else:
                summary = run_sim(sc, seed, progress)[1]
    _show(summary, out, as_json, _print_summary)


def _simulate_market(sc, seed, hours, accounts, rulebook, out, force, as_json) -> None:
    """``margincall simulate`` of a market scenario (several venues and assets)."""
    from margincall.core.errors import InvalidInputError
    from margincall.sim.market import parse_market
    from margincall.sim.market_run import simulate_market, write_market_run
    from margincall.sim.run_folder import check_out_dir
    from margincall.venue.warm import compile_on_two_cores

    if rulebook is not None:
        raise InvalidInputError(
            "--rulebook", rulebook, "no --rulebook for a market scenario (each venue names its own)"
        )
    if seed < 0:
        raise InvalidInputError("seed", seed, "a non-negative integer")
    if accounts is not None and not 100 <= accounts <= 20_000_000:
        raise InvalidInputError("--accounts", accounts, "from 100 to 20,000,000 accounts in all")
    if hours is not None:
        data = sc.model_dump()
        data["run"]["hours"] = hours
        sc = parse_market(data, f"scenario {sc.name}")
    if out is not None:
        check_out_dir(out, force)
    compile_on_two_cores()
    with output_folder(out):
        if out is not None:
            summary = write_market_run(out, sc, seed, accounts=accounts, force=force)
        else:
            summary = simulate_market(sc, seed, accounts, reports_only=True)[1]
    _show(summary, out, as_json, _print_market)


def _show(summary: dict, out: Path | None, as_json: bool, tables) -> None:
    """A run's summary on standard output: one JSON line, or ``tables(summary, out)``."""
    from margincall.sim.run_folder import to_jsonable

    summary = to_jsonable(summary)
    if as_json:
        sys.stdout.write(json.dumps(summary) + "\n")
        return
    tables(summary, out)


def _print_market(s: dict, out: Path | None) -> None:
    m = s["market"]
    table = Table(
        title=f"{s['scenario']}: {s['hours']:g} h, {', '.join(s['venues'])}, seed {s['seed']}"
    )
    for col in ("", "liquidated", "long share", "traders", "fund used", "ADL"):
        table.add_column(col, justify="right")
    share = m["long_share"]
    table.add_row(
        "market", usd_text(m["liquidated_usd"]), f"{share:.0%}" if share is not None else "-",
        f"{m['traders_liquidated']:,}", "", "",
    )  # fmt: skip
    for name, v in s["by_venue"].items():
        total = v["long_usd"] + v["short_usd"]
        table.add_row(
            name, usd_text(total), f"{v['long_usd'] / total:.0%}" if total else "-",
            f"{v['traders_liquidated']:,}", usd_text(v["fund_used_usd"]), f"{v['adl_events']:,}",
        )  # fmt: skip
    console.print(table)
    assets = Table(title="by asset")
    for col in ("asset", "liquidated", "index low", "index end", "largest gap", "gap at end"):
        assets.add_column(col, justify="right")
    for sym, a in s["by_asset"].items():
        g = a["gap_between_venues"]
        gap = "-" if g["max_pct"] is None else f"{g['max_pct']:.2f}%"
        end = "-" if g["end_pct"] is None else f"{g['end_pct']:.3f}%"
        assets.add_row(
            sym, usd_text(a["total_usd"]), f"{a['index']['low_change_pct']:+.1f}%",
            f"{a['index']['end_change_pct']:+.1f}%", gap, end,
        )  # fmt: skip
    console.print(assets)
    _print_stablecoins(s)
    big = m["largest_liquidation"]
    console.print(
        f"largest liquidation {usd_text(big['usd'])} ({big['venue']} {big['symbol']}); invariants "
        f"{s['invariants']['every_venue_and_market_money']}; wall {s['wall_seconds']:.1f} s"
    )
    if out is not None:
        console.print(f"run folder: {out} (report.html, summary.json, events.parquet, ...)")


def _print_stablecoins(s: dict) -> None:
    """The stablecoin books' table, when the scenario has any."""
    rows = [(v, a, x) for v, d in s["by_venue"].items() for a, x in d["stablecoins"].items()]
    if not rows:
        return
    table = Table(title="stablecoin books")
    for col in ("venue", "asset", "low", "at", "end", "converted", "desk sold"):
        table.add_column(col, justify="right")
    for venue, asset, x in rows:
        p = x["price"]
        table.add_row(
            venue, asset, f"${p['low']:.4f}", p["low_at"] or "-", f"${p['end']:.4f}",
            usd_text(x["converted_usd"]), usd_text(x["desk_proceeds_usd"]),
        )  # fmt: skip
    console.print(table)


def _print_summary(s: dict, out: Path | None) -> None:
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
        ("liquidated, long / short", f"{usd_text(liq['long_usd'])} / {usd_text(liq['short_usd'])}"),
        ("long share", f"{long_share:.0%}"),
        ("accounts liquidated", f"{liq['accounts']:,}"),
        ("largest liquidation", usd_text(liq["largest_usd"])),
        ("peak hour", usd_text(liq["peak_hour_usd"])),
        ("open interest", f"{usd_text(oi['start'])} -> {usd_text(oi['end'])}"),
        ("insurance fund (min)", f"{usd_text(fund['end'])} ({usd_text(fund['min'])})"),
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
