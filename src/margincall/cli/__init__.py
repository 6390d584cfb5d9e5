"""The ``margincall`` command: the app and its wiring, one module per command group.

Every command runs inside one error path (:mod:`margincall.cli.common`): an anticipated failure
(bad input, a path that cannot be read or written, a corrupted file, an unreachable exchange, a
full disk) prints one line naming what and where and exits with status 2, leaving no
half-written output; ``--debug`` shows the traceback of any error.
"""

from __future__ import annotations

from typing import Annotated

import typer

from margincall import __version__
from margincall.cli import monitor, serve, simulate, stress, sweep, venue
from margincall.cli.common import Commands, console

app = typer.Typer(
    name="margincall",
    help="Simulate, estimate and watch liquidation cascades in leveraged crypto markets.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=Commands,
)


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
    debug: Annotated[
        bool, typer.Option("--debug", help="Show the full traceback of any error.")
    ] = False,
) -> None:
    """Simulate, estimate and watch liquidation cascades in leveraged crypto markets."""


scenario_app = typer.Typer(
    help="Scenario presets: show one to copy and edit.", no_args_is_help=True
)
runs_app = typer.Typer(
    help="Query and plot a sweep's results store (the view runs).", no_args_is_help=True
)

# registration order is the order of `margincall --help`
app.command()(venue.rulebooks)
app.command("liquidation-price")(venue.liquidation_price)
app.command()(simulate.demo)
app.command()(simulate.scenarios)
app.add_typer(scenario_app, name="scenario")
scenario_app.command("show")(simulate.scenario_show)
app.command()(simulate.simulate)
app.command()(sweep.sweep)
app.add_typer(runs_app, name="runs")
runs_app.command("query")(sweep.runs_query)
runs_app.command("plot")(sweep.runs_plot)
app.command()(stress.stress)
app.command()(stress.forecast)
app.command()(serve.serve)
app.command()(monitor.monitor)


def main() -> None:  # pragma: no cover - console entry
    app()


__all__ = ["app", "main"]
