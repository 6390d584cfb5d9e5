"""Venue rules: the packaged rulebooks and the liquidation price of a position."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from margincall.cli.common import console, reading
from margincall.core.errors import InvalidInputError


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
        # the names whole (hyperliquid is also a mark rule's name: two columns of 11 letters)
        table.add_column(col, min_width=11 if col in ("name", "mark") else None)
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
    from margincall.estimate.positions import check_leverage
    from margincall.formulas import margin
    from margincall.venue.instrument import load_rulebook

    with reading("--rulebook", rulebook):
        rb = load_rulebook(rulebook)
    inst = rb.instrument(symbol)
    bp = margin.bankruptcy_price(side, qty, entry, wallet)  # checks side, qty, entry, wallet
    if not wallet > 0:
        raise InvalidInputError("--wallet", wallet, "a positive isolated margin in USD")
    check_leverage(rulebook, symbol, qty * entry, wallet)
    floors = [float(t.floor_usd) for t in inst.tiers]
    rates = [float(t.mmr) for t in inst.tiers]
    lp = margin.binance_liquidation_price_tiered(side, qty, entry, wallet, floors, rates)
    table = Table()
    table.add_column("price")
    table.add_column("USD", justify="right")
    table.add_row("liquidation", "none" if lp != lp else f"{lp:,.2f}")
    table.add_row("bankruptcy", "none" if bp != bp else f"{bp:,.2f}")
    console.print(table)
    console.print(
        f"{rulebook} {symbol}: {side} {qty} at {entry:,.2f} with {wallet:,.2f} USD of isolated margin"
    )
