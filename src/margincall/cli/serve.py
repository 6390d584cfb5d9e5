"""The web dashboard."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from margincall.cli.common import console
from margincall.core.errors import InvalidInputError


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
    allowed_host: Annotated[
        list[str] | None, typer.Option(help="another Host name to answer to (repeatable)")
    ] = None,
) -> None:
    """The web dashboard: runs, replays, new runs, stress tests and monitor reports."""
    try:
        from margincall.web.app import serve as run_server
    except ImportError as exc:  # pragma: no cover - fastapi or uvicorn missing
        raise InvalidInputError("serve", str(exc), "fastapi and uvicorn installed") from None
    if runs.exists() and not runs.is_dir():
        raise InvalidInputError("--runs", str(runs), "a folder of run folders (this is a file)")
    console.print(f"margincall dashboard on http://{host}:{port}/ (runs: {runs}, data: {data})")
    run_server(host, port, runs, data, max_sims, allowed_host or ())
