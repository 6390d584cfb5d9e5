"""The estimator: stress grids on a liquidation map and hourly liquidation forecasts."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from margincall.cli.common import (
    MarketInstrumentOption,
    MarketVenueOption,
    check_finite,
    check_new_folder,
    console,
    err,
    output_folder,
    reading,
    usd_text,
)
from margincall.core.compile_notice import compiling_notice
from margincall.core.errors import InvalidInputError


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
    venue: MarketVenueOption = None,
    instrument: MarketInstrumentOption = None,
    positions: Annotated[
        Path | None,
        typer.Option(help="a positions file: CSV/Parquet with side, qty, entry, wallet|leverage"),
    ] = None,
    shocks: Annotated[
        str, typer.Option(help="start:stop:step and/or a list, e.g. -2%:-20%:1% or -5%,3%")
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
    from margincall.inputs.maps import load_source
    from margincall.report.stress import write_stress
    from margincall.sources.market_run import MarketPick

    check_finite(
        depth_1pct=depth_1pct,
        beta=beta,
        thinning=thinning,
        refill=refill,
        y=y,
        sigma_daily=sigma_daily,
        volume_daily=volume_daily,
        price=price,
    )
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
    pick = MarketPick(venue, instrument)
    pick.folders([p for p in (from_run, from_data) if p is not None])
    if rulebook is not None:
        from margincall.venue.instrument import load_rulebook

        with reading("--rulebook", rulebook):
            load_rulebook(rulebook)
    with output_folder(out):
        source = load_source(
            scenario,
            from_run,
            from_data,
            positions,
            seed=seed,
            accounts=accounts,
            rulebook=rulebook,
            price=price,
            pick=pick,
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
    if as_json:
        sys.stdout.write(json.dumps(result) + "\n")
        return
    _print_stress(result, out)


def _print_stress(r: dict, out: Path | None) -> None:
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
            usd_text(row["long_liquidated_usd"]),
            usd_text(row["short_liquidated_usd"]),
            rounds,
        ]
        table.add_row(*cells)
    console.print(table)
    m, imp = a["map"], a["impact"]
    lines = [
        f"map: {a['source_kind']}; long {usd_text(r['long_total_usd'])}, short "
        f"{usd_text(r['short_total_usd'])} by liquidation price",
    ]
    if "leverage" in m and "weights" in m:
        pairs = ", ".join(
            f"{lv:g}x {w:.0%}" for lv, w in zip(m["leverage"], m["weights"], strict=False)
        )
        lines.append(f"  leverage weights: {pairs}")
    for key in ("map", "model", "venue", "symbol", "rulebook", "collateral", "reference"):
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


def forecast(
    from_data: Annotated[
        Path, typer.Option("--from-data", help="market-data file (CoinGlass CSV, generic, run)")
    ],
    out: Annotated[Path, typer.Option(help="new folder for forecast.parquet and summary.json")],
    as_json: Annotated[bool, typer.Option("--json", help="print the summary as JSON")] = False,
) -> None:
    """Hourly liquidation forecasts from the market-data map, scored against the naive baseline."""
    from margincall.estimate.forecast import run_forecast, write_forecast
    from margincall.sources.panel import read_panel

    check_new_folder(out)
    if not from_data.exists():
        raise InvalidInputError("--from-data", str(from_data), "an existing data file")
    with output_folder(out):
        frame, summary = run_forecast(read_panel(from_data), source=str(from_data))
        write_forecast(out, frame, summary)
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
