"""Simulations started from the dashboard: one child process each, at most ``max_sims`` at once.

A job runs :func:`margincall.sim.run_folder.write_run` in a fresh (spawned) process at a lower
CPU priority, so the server stays responsive; the child reports its progress through shared
values and its outcome (summary or error message) through a pipe. The run folder is written
atomically, so a failed or cancelled job leaves nothing under the runs folder.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_CTX = mp.get_context("spawn")


def _child(out: str, scenario_json: dict, seed: int, frac, liq, conn) -> None:
    """The child process: simulate and write the run folder, then report on ``conn``."""
    with contextlib.suppress(OSError):  # lower priority: the server stays responsive
        os.nice(5)
    try:
        from margincall.sim.run_folder import to_jsonable, write_run
        from margincall.sim.scenario import parse_scenario

        sc = parse_scenario(scenario_json, "dashboard run")

        def progress(step: int, steps: int, n_liq: int) -> None:
            frac.value = step / max(steps, 1)
            liq.value = int(n_liq)

        summary = write_run(Path(out), sc, seed, progress=progress)
        frac.value = 1.0
        conn.send(("done", to_jsonable(summary)))
    except Exception as exc:  # reported to the API as the job's error message
        conn.send(("failed", f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()


@dataclass
class Job:
    """One dashboard simulation."""

    id: str
    name: str
    preset: str
    hours: float
    accounts: int
    seed: int
    started: float
    process: Any = None
    frac: Any = None
    liq: Any = None
    conn: Any = None
    state: str = "running"
    error: str | None = None
    finished: float | None = None
    summary: dict[str, Any] | None = field(default=None, repr=False)

    def poll(self) -> None:
        """Collect the child's outcome once it has one."""
        if self.state != "running":
            return
        if self.conn is not None and self.conn.poll():
            try:
                self.state, payload = self.conn.recv()
            except (EOFError, OSError):
                self.state, payload = "failed", "the simulation process ended without a result"
            if self.state == "done":
                self.summary = payload
            else:
                self.error = str(payload)
        elif self.process is not None and not self.process.is_alive():
            self.process.join(0.1)
            if self.conn.poll():
                self.poll()
                return
            self.state = "failed"
            self.error = f"the simulation process exited with code {self.process.exitcode}"
        if self.state != "running":
            self.finished = time.time()
            if self.process is not None:
                self.process.join(1)

    def as_dict(self) -> dict[str, Any]:
        """The job as the API reports it."""
        self.poll()
        return {
            "id": self.id,
            "name": self.name,
            "preset": self.preset,
            "hours": self.hours,
            "accounts": self.accounts,
            "seed": self.seed,
            "state": self.state,
            "progress": 1.0 if self.state == "done" else float(self.frac.value if self.frac else 0),
            "liquidations": int(self.liq.value) if self.liq else 0,
            "error": self.error,
            "elapsed_seconds": round((self.finished or time.time()) - self.started, 1),
        }


class Full(Exception):
    """Raised when ``max_sims`` simulations are already running."""


class Jobs:
    """The dashboard's simulations (see the module docstring)."""

    def __init__(self, runs: Path, max_sims: int) -> None:
        self.runs = runs
        self.max_sims = max_sims
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()

    def running(self) -> int:
        """How many simulations are running now."""
        for job in self._jobs.values():
            job.poll()
        return sum(1 for j in self._jobs.values() if j.state == "running")

    def names_in_use(self) -> set[str]:
        return {j.name for j in self._jobs.values() if j.state == "running"}

    def start(self, name: str, preset: str, scenario_json: dict, seed: int) -> Job:
        """Start a simulation writing ``runs/name``; raises :class:`Full` at the limit."""
        with self._lock:
            if self.running() >= self.max_sims:
                raise Full(
                    f"{self.max_sims} simulation(s) already running (the --max-sims limit); "
                    "wait for one to finish"
                )
            frac, liq = _CTX.Value("d", 0.0), _CTX.Value("q", 0)
            parent, child = _CTX.Pipe(duplex=False)
            run = scenario_json["run"]
            job = Job(
                id=uuid.uuid4().hex[:12],
                name=name,
                preset=preset,
                hours=float(run["hours"]),
                accounts=int(run["accounts"]),
                seed=seed,
                started=time.time(),
                frac=frac,
                liq=liq,
                conn=parent,
            )
            proc = _CTX.Process(
                target=_child,
                args=(str(self.runs / name), scenario_json, seed, frac, liq, child),
                daemon=True,
                name=f"margincall-sim-{name}",
            )
            proc.start()
            child.close()
            job.process = proc
            self._jobs[job.id] = job
            return job

    def get(self, job_id: str) -> Job | None:
        return self._jobs.get(job_id)

    def all(self) -> list[Job]:
        return sorted(self._jobs.values(), key=lambda j: j.started, reverse=True)

    def shutdown(self) -> None:
        """Stop every running simulation (the server is going down)."""
        for job in self._jobs.values():
            p = job.process
            if p is not None and p.is_alive():
                p.terminate()
                p.join(5)
                if p.is_alive():
                    p.kill()
                job.state, job.error = "failed", "stopped: the server shut down"
