"""One run of a sweep, as it executes in a worker: a picklable :class:`Task` in, rows out.

:func:`execute` never raises for a failing run: the error (type and message) becomes the run's
row with ``status = "failed"``, so one bad run does not stop the sweep. Rows depend only on the
task (scenario, parameters, seed), never on the worker or the backend, except ``wall_seconds``.
"""

from __future__ import annotations

import atexit
import json
import os
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from margincall.core.orphans import die_with_parent
from margincall.store.rows import WALL, flatten, param_column


@dataclass(frozen=True)
class Task:
    """Everything a worker needs for one run (plain data, so it pickles to any backend)."""

    run_id: str
    index: int
    kind: str  # simulate | stress
    seed: int
    params: dict[str, Any]
    scenario: dict[str, Any] | None  # the run's full scenario (Scenario.model_dump(mode="json"))
    stress: dict[str, Any] = field(default_factory=dict)  # Stress fields, paths resolved
    run_folder: str | None = None  # write the full run folder here (simulate only)


def _head(task: Task) -> dict[str, Any]:
    row: dict[str, Any] = {
        "run_id": task.run_id,
        "run_index": task.index,
        "kind": task.kind,
        "status": "ok",
        "error": None,
        "seed": task.seed,
        "params": json.dumps(task.params, sort_keys=True),
    }
    for path, value in task.params.items():
        row[param_column(path)] = value
    return row


def _simulate(task: Task) -> list[dict[str, Any]]:
    from margincall.sim.run_folder import simulate, write_run
    from margincall.sim.scenario import parse_scenario

    sc = parse_scenario(task.scenario or {}, f"run {task.run_id}")
    if task.run_folder is not None:
        summary = write_run(Path(task.run_folder), sc, task.seed, force=True)
    else:
        summary = simulate(sc, task.seed)[1]
    summary = {k: v for k, v in summary.items() if k not in (WALL, "seed")}
    return [flatten(summary)]


def _stress(task: Task) -> list[dict[str, Any]]:
    import numpy as np

    from margincall.estimate import stress as st
    from margincall.inputs.maps import load_source

    cfg = task.stress
    if task.scenario is not None:
        from margincall.inputs.maps import map_from_scenario
        from margincall.sim.scenario import parse_scenario

        sc = parse_scenario(task.scenario, f"run {task.run_id}")
        lmap, _ = map_from_scenario(sc, task.seed)
        source = st.Source(lmap, "scenario", sc)
    else:
        source = load_source(
            None,
            None,
            Path(cfg["from_data"]) if cfg.get("from_data") else None,
            Path(cfg["positions"]) if cfg.get("positions") else None,
            rulebook=cfg.get("rulebook"),
        )
    model = st.build_impact(cfg["impact"], source, refill=cfg["refill"])
    result = st.run_stress(
        source,
        model,
        st.parse_shocks(cfg["shocks"]),
        np.asarray(cfg["depth_scales"], np.float64),
        np.asarray(cfg["leverage_scales"], np.float64),
    )
    common = {
        "reference_price": result["reference_price"],
        "map_long_total_usd": result["long_total_usd"],
        "map_short_total_usd": result["short_total_usd"],
        "critical_shock_down": (result["critical_shock"]["down"] or {}).get("shock"),
        "critical_shock_up": (result["critical_shock"]["up"] or {}).get("shock"),
    }
    return [{"cell": i, **cell, **common} for i, cell in enumerate(result["rows"])]


def execute(task: Task) -> tuple[str, list[dict[str, Any]], float]:
    """Run ``task``; returns ``(run_id, rows, wall seconds)``; a failure is a ``failed`` row."""
    t0 = time.perf_counter()
    head = _head(task)
    try:
        body = _simulate(task) if task.kind == "simulate" else _stress(task)
        rows = [{**head, **b} for b in body]
    except Exception as exc:
        last = traceback.extract_tb(exc.__traceback__)[-1:]
        where = f" (at {Path(last[0].filename).name}:{last[0].lineno})" if last else ""
        rows = [{**head, "status": "failed", "error": f"{type(exc).__name__}: {exc}{where}"}]
    wall = round(time.perf_counter() - t0, 3)
    for r in rows:
        r[WALL] = wall
    return task.run_id, rows, wall


def warm_up(driver_pid: int) -> None:
    """Prepare a fresh local worker process: end it with the driver ``driver_pid`` that started
    it (``kill -9`` of the driver leaves no worker running), import the simulator once (numba
    then loads its compiled functions from the on-disk cache once per worker, not once per run),
    and let the worker skip the interpreter's teardown when the pool shuts it down."""
    die_with_parent(driver_pid)
    import margincall.estimate.stress
    import margincall.sim.run_folder  # noqa: F401

    atexit.register(_exit_now)


def _exit_now() -> None:
    """End a worker without tearing down its modules and memory (about 0.2 s with numba and
    polars loaded). It runs after the worker has handed back every result and multiprocessing
    has flushed its standard streams."""
    os._exit(0)
