"""Where a sweep's runs execute: local processes (the default) or a Ray cluster.

Both take tasks and call ``on_result(run_id, rows, wall)`` in the driver as each run finishes;
the driver alone writes the store, so rows never depend on the backend. At most ``2 x workers``
tasks are in flight, so a million-run study does not queue a million futures.

Local: a :class:`~concurrent.futures.ProcessPoolExecutor` with the ``spawn`` context (numba and
threads are not fork-safe); each worker imports the simulator once (numba's compiled functions
come from its on-disk cache) and then runs many tasks. Workers die with the driver (even with
``kill -9`` of it; see :mod:`margincall.core.orphans`), and then so does multiprocessing's
resource tracker, which ends when the last process holding its pipe is gone. A worker that dies (killed, out of
memory) breaks the pool: the pool is rebuilt and the runs that were in flight run again one at a
time, so the run that kills its worker is found; it is retried once, then recorded as failed.

Ray: an optional extra (``pip install 'margincall[ray]'``), imported only when asked for.
``address=None`` starts a local Ray instance with ``num_cpus = workers``; ``"auto"`` or
``HOST:PORT`` joins a running cluster, checked before any run starts.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import socket
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from margincall.core.errors import InvalidInputError
from margincall.sweep.task import Task, execute, warm_up

OnResult = Callable[[str, list[dict[str, Any]], float], None]
MAX_WORKER_DEATHS = 2


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)


def _died_row(task: Task) -> list[dict[str, Any]]:
    from margincall.sweep.task import _head

    error = f"WorkerDied: the worker process running this run died {MAX_WORKER_DEATHS} times"
    return [{**_head(task), "status": "failed", "error": error, "wall_seconds": None}]


class LocalBackend:
    """Local worker processes."""

    name = "local"

    def __init__(self, workers: int, fn: Callable[[Task], Any] = execute) -> None:
        self.workers = workers
        self.fn = fn  # the worker function (tests pass one that crashes its worker)

    def check(self) -> None:
        """Nothing to check for local processes."""

    def run(self, tasks: Iterable[Task], on_result: OnResult) -> None:
        pending = iter(tasks)
        deaths: dict[str, int] = {}
        suspects: list[Task] = []  # in flight when a worker died: run again one at a time
        ctx = mp.get_context("spawn")
        while True:
            pool = ProcessPoolExecutor(
                self.workers, mp_context=ctx, initializer=warm_up, initargs=(os.getpid(),)
            )
            inflight: dict[Any, Task] = {}
            try:
                broken = self._drain(pool, pending, suspects, inflight, on_result)
            except BaseException:
                pool.shutdown(wait=False, cancel_futures=True)
                for p in list((getattr(pool, "_processes", None) or {}).values()):
                    p.terminate()
                raise
            pool.shutdown(wait=not broken, cancel_futures=True)
            if not broken:
                return
            if len(inflight) == 1:  # it ran alone: it killed its worker
                (task,) = inflight.values()
                deaths[task.run_id] = deaths.get(task.run_id, 0) + 1
                if deaths[task.run_id] >= MAX_WORKER_DEATHS:
                    on_result(task.run_id, _died_row(task), 0.0)
                else:
                    suspects.insert(0, task)
            else:
                suspects[:0] = list(inflight.values())

    def _drain(self, pool, pending, suspects, inflight, on_result) -> bool:
        """Run the suspects one at a time, then the other tasks, until none are left (False)
        or the pool breaks (True; ``inflight`` holds the tasks that did not finish)."""
        try:
            while suspects:
                task = suspects.pop(0)
                fut = pool.submit(self.fn, task)
                inflight[fut] = task
                run_id, rows, wall = fut.result()
                del inflight[fut]
                on_result(run_id, rows, wall)
            while True:
                while len(inflight) < 2 * self.workers:
                    task = next(pending, None)
                    if task is None:
                        break
                    inflight[pool.submit(self.fn, task)] = task
                if not inflight:
                    return False
                done, _ = wait(list(inflight), return_when=FIRST_COMPLETED)
                for fut in done:
                    run_id, rows, wall = fut.result()
                    del inflight[fut]
                    on_result(run_id, rows, wall)
        except BrokenProcessPool:
            return True


def _import_ray():
    try:
        import ray
    except ImportError:
        raise InvalidInputError(
            "--backend", "ray", "Ray installed: pip install 'margincall[ray]' (or --backend local)"
        ) from None
    return ray


def _reachable(address: str, timeout: float = 3.0) -> bool:
    hostport = address.removeprefix("ray://").removeprefix("http://").rstrip("/")
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit():
        return False
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            return True
    except OSError:
        return False


class RayBackend:
    """Ray tasks, one per run (``num_cpus=1`` each)."""

    name = "ray"

    def __init__(self, workers: int, address: str | None) -> None:
        self.workers = workers
        self.address = address
        self._ray = None

    def check(self) -> None:
        """Import Ray and connect (or start a local instance); refuse an unreachable cluster."""
        ray = _import_ray()
        fix = (
            "a reachable Ray cluster: start one with `ray start --head`, give its HOST:PORT, "
            "drop --address to start a local Ray instance, or use --backend local"
        )
        addr = self.address
        if addr not in (None, "auto", "local") and not _reachable(addr):
            raise InvalidInputError("--address", addr, fix)
        try:
            if not ray.is_initialized():
                if addr in (None, "local"):  # always a new instance, never another's cluster
                    ray.init(
                        address="local",
                        num_cpus=self.workers,
                        include_dashboard=False,
                        log_to_driver=False,
                        configure_logging=False,
                    )
                else:
                    ray.init(address=addr, log_to_driver=False)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise InvalidInputError("--address", addr, f"{fix} ({exc})") from None
        self._ray = ray

    def run(self, tasks: Iterable[Task], on_result: OnResult) -> None:
        ray = self._ray
        assert ray is not None, "check() first"
        remote = ray.remote(num_cpus=1, max_retries=MAX_WORKER_DEATHS - 1)(execute)
        pending = iter(tasks)
        inflight: dict[Any, Task] = {}
        try:
            while True:
                while len(inflight) < 2 * self.workers:
                    task = next(pending, None)
                    if task is None:
                        break
                    inflight[remote.remote(task)] = task
                if not inflight:
                    return
                done, _ = ray.wait(list(inflight), num_returns=1)
                for ref in done:
                    task = inflight.pop(ref)
                    try:
                        run_id, rows, wall = ray.get(ref)
                    except ray.exceptions.RayError:  # the worker died on every retry
                        run_id, rows, wall = task.run_id, _died_row(task), 0.0
                    on_result(run_id, rows, wall)
        except BaseException:
            for ref in inflight:
                ray.cancel(ref, force=True)
            raise

    def close(self) -> None:
        if self._ray is not None and self.address is None:
            self._ray.shutdown()


def make_backend(kind: str, workers: int, address: str | None):
    """The backend ``kind`` (``local`` or ``ray``)."""
    if kind == "local":
        if address is not None:
            raise InvalidInputError("--address", address, "no --address with --backend local")
        return LocalBackend(workers)
    if kind == "ray":
        return RayBackend(workers, address)
    raise InvalidInputError("--backend", kind, "local or ray")
