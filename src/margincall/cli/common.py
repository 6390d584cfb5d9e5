"""What every command shares: the two consoles and the one way of reporting bad input."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.markup import escape

console = Console()
err = Console(stderr=True)


def fail(exc: Exception) -> None:
    """Print ``exc`` as one line on stderr and exit with status 2."""
    # not wrapped at the terminal's width (a path stays whole) and not read as markup
    err.print(f"[bold red]error:[/] {escape(str(exc))}", soft_wrap=True)
    raise typer.Exit(2)
