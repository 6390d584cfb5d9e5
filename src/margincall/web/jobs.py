"""Simulations started from the dashboard: one child process each, at most ``max_sims`` at once.

A job first reserves its run folder: the server creates ``runs/NAME`` as an empty folder
(``mkdir`` fails on any existing entry, a dangling symbolic link included), so two requests for
one name cannot both be accepted. It then runs :func:`margincall.sim.run_folder.write_run` into
that folder in a fresh (spawned) process at a lower CPU priority, so the server stays
responsive; the child reports its progress through shared values and its outcome (summary or
error message) through a pipe. The run is written beside the folder and renamed over it whole;
a failed or cancelled job removes the empty folder, so it leaves nothing under the runs folder.

The child ends with the server, even when the server is killed with ``kill -9``: it watches a
pipe whose only write end the server holds (:func:`_die_with_parent`).
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import signal
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from margincall.web.safety import check_name, safe_path

_CTX = mp.get_context("spawn")
GRACE_SECONDS = 2.0
"""How long a child whose server died may spend cleaning up before it exits hard."""


def _child(out: str, scenario_json: dict, seed: int, frac, liq, conn, alive) -> None:
    """The child process: simulate and write the run folder ``out`` (reserved empty by the
    server), then report on ``conn``."""
    _die_with_parent(alive)
    with contextlib.suppress(OSError):  # lower priority: the server stays responsive
        os.nice(5)
    try:
        from margincall.sim.run_folder import to_jsonable, write_run
        from margincall.sim.scenario import parse_scenario

        sc = parse_scenario(scenario_json, "dashboard run")

        def progress(step: int, steps: int, n_liq: int) -> None:
            frac.value = step / max(steps, 1)
            liq.value = int(n_liq)

        # force: the folder is the server's empty reservation, replaced by the finished run
        summary = write_run(Path(out), sc, seed, force=True, progress=progress)
        frac.value = 1.0
        conn.send(("done", to_jsonable(summary)))
    except Exception as exc:  # reported to the API as the job's error message
        with contextlib.suppress(OSError):
            conn.send(("failed", f"{type(exc).__name__}: {exc}"))
    finally:
        _release(Path(out))
        conn.close()


def _die_with_parent(alive) -> None:
    """End this process when the server ends. ``alive`` is the read end of a pipe whose only
    write end the server holds and never writes to: reading returns (EOF) once the server is
    gone, however it ended. The child then gets SIGTERM, which exits through ``SystemExit`` so
    the run's temporary folder and the reservation are removed, and a hard exit follows after
    :data:`GRACE_SECONDS` in case the main thread is inside a long compiled call."""

    def on_term(signum, frame):
        raise SystemExit(128 + signum)

    def watch() -> None:
        with contextlib.suppress(EOFError, OSError):
            alive.recv()
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(GRACE_SECONDS)
        os._exit(128 + signal.SIGTERM)

    signal.signal(signal.SIGTERM, on_term)
    threading.Thread(target=watch, name="margincall-parent-watch", daemon=True).start()


def _release(folder: Path) -> None:
    """Remove the reserved run folder if it is still the empty reservation."""
    with contextlib.suppress(OSError):
        folder.rmdir()


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
    alive: Any = None
    folder: Path | None = None
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
            self._close()

    def _close(self) -> None:
        """After the child ended: the pipe to it closed, an empty reservation removed."""
        if self.alive is not None:
            self.alive.close()
            self.alive = None
        if self.folder is not None:
            _release(self.folder)

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


class Taken(Exception):
    """Raised when the run name exists under the runs folder (a run, a run being written, or
    anything else, a symbolic link included)."""


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

    def start(self, names: Iterable[str], preset: str, scenario_json: dict, seed: int) -> Job:
        """Reserve the first of ``names`` free under the runs folder and start a simulation
        writing it; raises :class:`Taken` when none is free, :class:`Full` at the limit."""
        with self._lock:
            # a running job's folder is briefly absent while the finished run is renamed in
            busy, tried = {j.name for j in self._jobs.values() if j.state == "running"}, []
            for name in names:
                tried.append(check_name(name, "run name"))
                if name not in busy and not os.path.lexists(self.runs.resolve() / name):
                    break
            else:
                raise Taken(f"a run named {tried[0]!r} exists already under the runs folder")
            if self.running() >= self.max_sims:
                raise Full(
                    f"{self.max_sims} simulation(s) already running (the --max-sims limit); "
                    "wait for one to finish"
                )
            folder = safe_path(self.runs, name, what="run name")
            try:
                folder.mkdir()  # exclusive, and never through a symbolic link
            except FileExistsError:
                raise Taken(f"a run named {name!r} exists already under the runs folder") from None
            job = self._spawn(name, preset, scenario_json, seed, folder)
            self._jobs[job.id] = job
            return job

    def _spawn(self, name: str, preset: str, scenario_json: dict, seed: int, folder: Path) -> Job:
        frac, liq = _CTX.Value("d", 0.0), _CTX.Value("q", 0)
        parent, child = _CTX.Pipe(duplex=False)
        alive_r, alive_w = _CTX.Pipe(duplex=False)
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
            alive=alive_w,
            folder=folder,
        )
        proc = _CTX.Process(
            target=_child,
            args=(str(folder), scenario_json, seed, frac, liq, child, alive_r),
            daemon=True,
            name=f"margincall-sim-{name}",
        )
        try:
            proc.start()
        except BaseException:
            _release(folder)
            raise
        finally:
            child.close()
            alive_r.close()
        job.process = proc
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
                    p.join(5)
                job.state, job.error = "failed", "stopped: the server shut down"
                job._close()
