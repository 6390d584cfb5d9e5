"""``kill -9`` of a sweep driver leaves nothing running: its workers and multiprocessing's
resource tracker are gone within 5 s."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sweep_helpers import write_spec

from margincall.store.rows import rows_dir


def _stat(pid: int) -> tuple[int, str, int] | None:
    """``(ppid, state, start time)`` of a process, None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return int(fields[1]), fields[0], int(fields[19])


def _descendants(root: int) -> dict[int, int]:
    """Every process below ``root`` (children, grandchildren, ...) -> its start time."""
    parents: dict[int, list[tuple[int, int]]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (st := _stat(int(entry))) is not None:
            parents.setdefault(st[0], []).append((int(entry), st[2]))
    found: dict[int, int] = {}
    todo = [root]
    while todo:
        for pid, start in parents.get(todo.pop(), []):
            found[pid] = start
            todo.append(pid)
    return found


def _alive(pid: int, start: int) -> bool:
    st = _stat(pid)
    return st is not None and st[1] != "Z" and st[2] == start  # a zombie has ended


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def test_kill_9_of_the_driver_ends_its_workers_and_resource_tracker(tmp_path):
    spec = write_spec(tmp_path, seeds=10, hours=1)  # 40 runs of about a second each
    out = tmp_path / "out"
    driver = subprocess.Popen(
        [sys.executable, "-m", "margincall.cli", "sweep", str(spec), "--out", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # only for the clean-up below if the test fails
    )
    try:
        deadline = time.monotonic() + 300
        rows = rows_dir(out)
        while time.monotonic() < deadline and driver.poll() is None:
            if rows.is_dir() and len(list(rows.glob("*.parquet"))) >= 2:
                break  # the workers are running runs
            time.sleep(0.05)
        below = _descendants(driver.pid)
        workers = [p for p in below if "spawn_main" in _cmdline(p)]
        trackers = [p for p in below if "resource_tracker" in _cmdline(p)]
        assert driver.poll() is None, "the sweep ended before the kill"
        assert len(workers) == 2 and len(trackers) == 1, [_cmdline(p) for p in below]
        os.kill(driver.pid, signal.SIGKILL)  # the driver alone, not its process group
        driver.wait()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(_alive(p, s) for p, s in below.items()):
            time.sleep(0.05)
        left = [_cmdline(p) for p, s in below.items() if _alive(p, s)]
        assert not left, f"still running 5 s after kill -9 of the driver: {left}"
        assert len(list(rows.glob("*.parquet"))) < 40  # killed part-way
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(driver.pid, signal.SIGKILL)
        driver.wait()
