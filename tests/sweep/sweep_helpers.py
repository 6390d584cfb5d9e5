"""Small sweep specs for the tests: the calm preset cut to 500 accounts and a few minutes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from margincall.store.db import query

TINY = """
name = "tiny"
scenario = "calm"
seeds = {seeds}
[set]
"run.accounts" = 500
"run.hours" = {hours}
[grid]
"market.insurance_fund_usd" = [1e8, 1e9]
"population.retail.leverage_max" = {{ start = 50, stop = 125, step = 75 }}
[backend]
workers = 2
"""


def write_spec(folder: Path, *, seeds: int = 1, hours: float = 0.1, extra: str = "") -> Path:
    path = folder / "spec.toml"
    path.write_text(TINY.format(seeds=seeds, hours=hours) + extra)
    return path


def cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """``margincall ARGS`` in a fresh process."""
    return subprocess.run(
        [sys.executable, "-m", "margincall.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def rows_without_wall(out: Path) -> list[str]:
    """Every row of a store but its wall time, as JSON text, ordered by run id and cell."""
    names, rows = query(out, "SELECT * EXCLUDE (wall_seconds) FROM runs")
    key = names.index("run_id")
    cell = names.index("cell") if "cell" in names else None
    rows.sort(key=lambda r: (r[key], r[cell] if cell is not None else 0))
    return [json.dumps(dict(zip(names, r, strict=True)), default=str) for r in rows]
