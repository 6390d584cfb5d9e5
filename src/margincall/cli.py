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
from rich.table import Table

from margincall import __version__
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
    err.print(f"[bold red]error:[/] {exc}")
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


if __name__ == "__main__":  # pragma: no cover
    main()
