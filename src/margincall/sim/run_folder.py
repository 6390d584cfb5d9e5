"""Run a scenario and write its run folder, whole or not at all.

The folder is built under a temporary name beside the target and renamed when every file is
written, so an interrupted run (Ctrl-C, a crash, ``kill -9``) never leaves a half-written
folder under the real name. Contents: ``manifest.json``, ``events.parquet``,
``candles.parquet``, ``summary.json``, ``report.html``, ``price_liquidations.png``.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np

from margincall import __version__
from margincall.core.atomic import atomic_folder
from margincall.core.errors import InvalidInputError
from margincall.events.log import write_parquet
from margincall.report.candles import candles
from margincall.report.stats import summarize
from margincall.sim.kernel import Progress, Simulation
from margincall.sim.scenario import Scenario


def check_out_dir(out: Path, force: bool) -> None:
    """Refuse an existing ``out`` unless ``force``; refuse a parent that cannot be written."""
    if out.exists() and not force:
        raise InvalidInputError("--out", str(out), "a folder that does not exist yet (or --force)")
    parent = out.resolve().parent
    if not parent.is_dir():
        raise InvalidInputError("--out", str(out), "a path whose parent folder exists")
    if not os.access(parent, os.W_OK):
        raise InvalidInputError("--out", str(out), "a path in a folder you can write to")


def git_revision() -> str | None:
    """The source checkout's commit, when the package runs from one."""
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "-C", str(here), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def simulate(
    scenario: Scenario, seed: int, progress: Progress | None = None
) -> tuple[Simulation, dict[str, Any], Any, float]:
    """Run ``scenario``; returns the simulation, its summary, its candles and wall seconds."""
    t0 = time.perf_counter()
    sim = Simulation(scenario, seed)
    sim.run(progress)
    v = sim.venue
    events = v.log.records()
    tick, lot = float(v.scale.tick_size), float(v.scale.lot_size)
    bars = candles(events, tick, lot, sim.start_ns, sim.end_ns)
    summary: dict[str, Any] = {
        "scenario": scenario.name,
        "seed": seed,
        "accounts": scenario.run.accounts,
        "hours": scenario.run.hours,
        "rulebook": v.rulebook.name,
    }
    summary.update(summarize(events, bars, {"freq_s": 60}))
    n = v.n_accounts
    summary["invariants"] = {
        "money_conserved": v.ledger_gap() == 0,
        "open_interest_balanced": int(v.acc.pos[:n].sum()) == 0,
    }
    summary["event_log_sha256"] = v.digest()
    wall = time.perf_counter() - t0
    summary["wall_seconds"] = round(wall, 3)
    return sim, summary, bars, wall


def write_run(
    out: Path,
    scenario: Scenario,
    seed: int,
    *,
    force: bool = False,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Simulate and write the run folder ``out``; returns the summary."""
    out = Path(out)
    check_out_dir(out, force)
    sim, summary, bars, _ = simulate(scenario, seed, progress)
    v = sim.venue
    with atomic_folder(out, replace=True) as tmp:
        meta = {
            "scenario": scenario.name,
            "seed": str(seed),
            "tick_size": str(v.scale.tick_size),
            "lot_size": str(v.scale.lot_size),
            "symbol": scenario.run.symbol,
            "rulebook": v.rulebook.name,
        }
        write_parquet(v.log.records(), tmp / "events.parquet", meta)
        bars.write_parquet(tmp / "candles.parquet")
        manifest = {
            "scenario": scenario.model_dump(mode="json"),
            "seed": seed,
            "package_version": __version__,
            "git_revision": git_revision(),
            "start_ns": sim.start_ns,
            "end_ns": sim.end_ns,
            "tick_size": str(v.scale.tick_size),
            "lot_size": str(v.scale.lot_size),
        }
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
        (tmp / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        title = f"margincall: {scenario.name}, seed {seed}"
        # plotly and matplotlib load here, not on import: sweep workers that keep no run
        # folder never pay for them
        from margincall.report.figures import write_price_png, write_report_html

        write_report_html(tmp / "report.html", bars, summary, sim.liquidation_map(), title)
        write_price_png(tmp / "price_liquidations.png", bars, title)
    return summary


def to_jsonable(value: Any) -> Any:
    """numpy scalars to Python numbers (for ``--json``)."""
    if isinstance(value, dict):
        return {k: to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value
