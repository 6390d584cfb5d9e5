"""Prepare and run a sweep into an output folder, resumably, one sweep per folder at a time.

:func:`prepare` does every check before any run starts: the spec (unknown parameters, empty
grids, invalid values), the output folder (writable; empty, new, or a sweep folder of the *same*
study, else refused with the difference), and the backend (Ray importable and reachable). It
then writes ``DIR/spec.toml`` (the spec as given) and ``DIR/study.json`` (the study's identity
and hash) on the first start, holding the folder's lock (:mod:`margincall.store.lock`: a second
sweep on the same folder is refused) until :func:`run` has executed the runs that have no rows
yet.

Layout of ``DIR``: ``spec.toml``, ``study.json``, ``.sweep.lock``, ``rows/RUN_ID.parquet`` (one
per finished run, see :mod:`margincall.store.rows`), ``runs/RUN_ID/`` (full run folders, when
kept).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from margincall.core.atomic import write_atomic
from margincall.core.errors import InvalidInputError
from margincall.store.lock import LOCK, lock_store
from margincall.store.rows import clean_temporaries, finished, write_rows
from margincall.sweep.backends import default_workers, make_backend
from margincall.sweep.spec import RunPlan, Study, diff, load_spec, spec_defaults
from margincall.sweep.task import Task

STUDY = "study.json"
SPEC = "spec.toml"


@dataclass
class Prepared:
    """A checked sweep, ready to run: the study, its folder, the backend and what is left."""

    study: Study
    out: Path
    backend: Any
    todo: list[RunPlan]
    already: dict[str, str]  # run_id -> status of the runs finished before this start
    resumed: bool
    lock: BinaryIO | None = None  # the store's lock, held until :func:`run` ends

    def release(self) -> None:
        """Let another sweep use the folder (:func:`run` does this when it ends)."""
        if self.lock is not None:
            self.lock.close()
            self.lock = None


@dataclass
class Outcome:
    """What :func:`run` did."""

    ran: int = 0
    ok: int = 0
    failed: int = 0
    wall: float = 0.0
    run_seconds: float = 0.0
    errors: list[str] = field(default_factory=list)


def _check_writable(folder: Path, what: str) -> None:
    try:
        fd, probe = tempfile.mkstemp(prefix=".write-check.", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise InvalidInputError(
            "--out", str(what), f"a folder you can write to ({exc.strerror}); choose another --out"
        ) from None


def _write_study(out: Path, study: Study) -> None:
    record = {
        "name": study.spec.name,
        "hash": study.hash(),
        "runs": len(study.runs),
        "identity": study.identity(),
    }
    write_atomic(out / STUDY, json.dumps(record, indent=1, default=str) + "\n")


def check_out(out: Path, study: Study) -> tuple[bool, dict[str, Any] | None]:
    """Refuse an output folder that cannot hold this study; returns ``(exists, old_record)``
    (the folder's ``study.json``, None for a new or empty folder). Writes nothing."""
    out = Path(out)
    if out.exists():
        if not out.is_dir():
            raise InvalidInputError("--out", str(out), "a folder (this is a file)")
        _check_writable(out, str(out))
        marker = out / STUDY
        if marker.is_file():
            old = json.loads(marker.read_text("utf-8"))
            if old.get("hash") != study.hash():
                lines = diff(old.get("identity", {}), study.identity(), spec_defaults())
                if lines:
                    raise InvalidInputError(
                        "SPEC",
                        study.spec.name,
                        "the spec this folder was started with, or a new --out; it changed:\n"
                        + "\n".join(lines),
                    )
            return True, old
        if any(p.name != LOCK for p in out.iterdir()):
            raise InvalidInputError(
                "--out", str(out), "a new or empty folder, or a sweep folder of this spec"
            )
        return True, None
    parent = out.resolve().parent
    if not parent.is_dir():
        raise InvalidInputError("--out", str(out), "a path whose parent folder exists")
    _check_writable(parent, str(out))
    return False, None


def prepare(
    spec_path: str | Path,
    out: str | Path,
    *,
    workers: int | None = None,
    backend: str | None = None,
    address: str | None = None,
    retry_failed: bool = False,
) -> Prepared:
    """Every check before any run starts, then the folder's first files (see module doc)."""
    study = load_spec(spec_path)
    if not study.runs:
        raise InvalidInputError("SPEC", str(spec_path), "at least one run")
    out = Path(out)
    exists, old = check_out(out, study)
    b = study.spec.backend
    kind = backend or ("ray" if address is not None else b.kind)  # --address implies Ray
    n = workers or b.workers or default_workers()
    addr = address if address is not None else (b.address if kind == "ray" else None)
    engine = make_backend(kind, n, addr)
    engine.check()
    lock = None
    try:
        out.mkdir(exist_ok=True)
        lock = lock_store(out)
        _, old = check_out(out, study)  # again, now that no other sweep can change the folder
        if old is None:
            write_atomic(out / SPEC, study.text)
        if old is None or old.get("hash") != study.hash():
            _write_study(out, study)  # new, or only fields added since, at their defaults
        clean_temporaries(out)
        ids = {r.run_id for r in study.runs}
        already = {k: v for k, v in finished(out).items() if k in ids}
    except BaseException:
        if lock is not None:
            lock.close()
        getattr(engine, "close", lambda: None)()
        raise
    skip = {k for k, v in already.items() if not (retry_failed and v == "failed")}
    todo = [r for r in study.runs if r.run_id not in skip]
    return Prepared(study, out, engine, todo, already, exists and old is not None, lock)


def task_for(study: Study, run: RunPlan, out: Path) -> Task:
    """The worker's task of one run."""
    spec = study.spec
    scenario = None
    if study.base is not None:
        scenario = study.scenario_for(run).model_dump(mode="json")
    stress: dict[str, Any] = {}
    if spec.kind == "stress":
        stress = spec.stress.model_dump(mode="json")
        for key in ("from_data", "positions"):
            if stress[key]:
                stress[key] = str((study.base_dir / stress[key]).resolve())
    folder = None
    if spec.keep.run_folders and spec.kind == "simulate":
        folder = str((out / "runs" / run.run_id).resolve())
        (out / "runs").mkdir(exist_ok=True)
    return Task(run.run_id, run.index, spec.kind, run.seed, run.params, scenario, stress, folder)


def run(
    prep: Prepared,
    on_progress: Callable[[Outcome, str, str], None] | None = None,
) -> Outcome:
    """Run every run in ``prep.todo``; each finished run's rows are written at once, whole."""
    outcome = Outcome()
    t0 = time.perf_counter()

    def on_result(run_id: str, rows: list[dict[str, Any]], wall: float) -> None:
        write_rows(prep.out, run_id, rows)
        status = "failed" if rows[0]["status"] == "failed" else "ok"
        outcome.ran += 1
        outcome.run_seconds += wall
        if status == "ok":
            outcome.ok += 1
        else:
            outcome.failed += 1
            outcome.errors.append(f"{run_id}: {rows[0]['error']}")
        if on_progress is not None:
            on_progress(outcome, run_id, status)

    tasks = (task_for(prep.study, r, prep.out) for r in prep.todo)
    try:
        prep.backend.run(tasks, on_result)
    finally:
        outcome.wall = time.perf_counter() - t0
        close = getattr(prep.backend, "close", None)
        if close is not None:
            close()
        prep.release()
    return outcome
