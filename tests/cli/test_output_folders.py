"""Output folders (issue 18, defects 4 and 6): one writer at a time (a real flock held by another
process), nothing left by a killed writer after the next run, and a full disk, a read-only
folder or an unreachable exchange refused in one line with nothing written."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from cli_helpers import assert_refused, invoke, leftovers

from margincall.core import atomic
from margincall.core.errors import InvalidInputError

SRC = str(Path(atomic.__file__).resolve().parents[2])
DEMO = ["demo", "--accounts", "100", "--steps", "1"]


def _child(code: str) -> subprocess.Popen:
    """A Python process running ``code`` that prints "ready" once it holds what it takes."""
    env = {**os.environ, "PYTHONPATH": SRC}
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=env
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return proc


def _hold_lock(out: Path) -> subprocess.Popen:
    return _child(
        "import sys, time\n"
        "from margincall.core.atomic import output_lock\n"
        f"with output_lock({str(out)!r}):\n"
        "    print('ready', flush=True)\n"
        "    time.sleep(600)\n"
    )


def _store(folder: Path) -> Path:
    """A sweep results store of three ok runs with columns x and y."""
    from margincall.store.rows import write_rows

    for i in range(3):
        row = {"run_id": f"0000{i}-a", "run_index": i, "status": "ok", "x": i, "y": i}
        write_rows(folder, row["run_id"], [row])
    return folder


def _kill(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)


def test_a_second_writer_of_the_same_out_is_refused_and_a_killed_one_does_not_block(tmp_path):
    out = tmp_path / "run"
    holder = _hold_lock(out)
    try:
        line = assert_refused(invoke([*DEMO, "--out", out]), "--out", str(out))
        assert f"process {holder.pid}" in line
        assert not out.exists()
        other = invoke([*DEMO, "--out", tmp_path / "other"])  # another folder is not blocked
        assert other.exit_code == 0, other.stderr
    finally:
        _kill(holder)
    result = invoke([*DEMO, "--out", out])  # the lock went with the killed process
    assert result.exit_code == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["events.parquet", "summary.json"]
    assert leftovers(tmp_path) == []  # the lock file is removed on release


def test_every_output_command_takes_the_lock(tmp_path):
    out = tmp_path / "busy"
    holder = _hold_lock(out)
    try:
        for args in (
            ["simulate", "calm", "--accounts", "100", "--hours", "0.01", "--out", out],
            ["stress", "calm", "--accounts", "100", "--shocks=-1%", "--out", out],
            ["forecast", "--from-data", __file__, "--out", out],
            ["monitor", __file__, "--out", out],
            [*DEMO, "--out", out],
        ):
            assert_refused(invoke(args), "--out", str(out), "holds")
    finally:
        _kill(holder)
    assert not out.exists()


def test_a_killed_writer_leaves_only_a_hidden_folder_that_the_next_run_removes(tmp_path):
    out = tmp_path / "run"
    writer = _child(
        "import time\n"
        "from pathlib import Path\n"
        "from margincall.core.atomic import atomic_folder\n"
        f"with atomic_folder(Path({str(out)!r}), replace=False) as tmp:\n"
        "    (tmp / 'events.parquet').write_bytes(b'half')\n"
        "    print('ready', flush=True)\n"
        "    time.sleep(600)\n"
    )
    busy = _hold_lock(tmp_path / "live")  # a writer that is alive: its folder stays
    live_tmp = tmp_path / f".live{atomic.TMP_TAG}{busy.pid}-abc"
    live_tmp.mkdir()
    try:
        _kill(writer)
        left = leftovers(tmp_path)
        assert not out.exists() and any(n.startswith(f".run{atomic.TMP_TAG}") for n in left)
        result = invoke([*DEMO, "--out", tmp_path / "next"])  # any run in the same folder
        assert result.exit_code == 0, result.stderr
        assert leftovers(tmp_path) == [live_tmp.name, f".live{atomic.LOCK_SUFFIX}"]
    finally:
        _kill(busy)


def test_the_lock_is_reentrant_in_a_thread_and_refuses_another_thread(tmp_path):
    out = tmp_path / "x"
    seen: list[BaseException | None] = []

    def other() -> None:
        try:
            with atomic.output_lock(out):
                seen.append(None)
        except InvalidInputError as exc:
            seen.append(exc)

    with atomic.output_lock(out), atomic.output_lock(out):
        t = threading.Thread(target=other)
        t.start()
        t.join()
    assert isinstance(seen[0], InvalidInputError)
    with atomic.output_lock(out):  # released: free again
        pass
    assert leftovers(tmp_path) == []


def test_a_full_disk_while_writing_is_refused_with_nothing_written(tmp_path, monkeypatch):
    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    store = _store(tmp_path / "store")
    monkeypatch.setattr(atomic, "_publish", no_space)  # the last step of every output folder
    out = tmp_path / "run"
    assert_refused(invoke([*DEMO, "--out", out]), "--out", "No space left on device")
    assert not out.exists()
    monkeypatch.setattr(atomic.os, "replace", no_space)  # the single-file writer's rename
    html = tmp_path / "plot.html"
    line = assert_refused(invoke(["runs", "plot", store, "x", "y", "--html", html]), "--html")
    assert "No space left on device" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["store"]


def test_an_unreachable_exchange_is_refused_in_one_line(tmp_path, monkeypatch):
    ccxt = pytest.importorskip("ccxt", reason="ccxt (the live extra, also in dev) not installed")
    calls: list[str] = []

    def offline(self, url, *args, **kwargs):
        calls.append(url)
        raise ccxt.NetworkError("binanceusdm GET https://fapi.binance.com: Connection reset")

    monkeypatch.setattr(ccxt.binanceusdm, "fetch", offline)
    out = tmp_path / "report"
    spec = "ccxt:binanceusdm:BTC/USDT:USDT?timeframe=1h"
    line = assert_refused(
        invoke(["monitor", spec, "--out", out]), "ccxt:binanceusdm", "NetworkError"
    )
    assert calls and not out.exists() and leftovers(tmp_path) == []
    assert "try again" in line


def test_a_read_only_out_is_refused_for_every_output_command(readonly_dir, tmp_path):
    out = readonly_dir / "margincall-out"
    store = _store(tmp_path / "store")
    for args, option in (
        (["forecast", "--from-data", __file__, "--out", out], "--out"),
        (["monitor", __file__, "--out", out], "--out"),
        ([*DEMO, "--out", out], "--out"),
        (["runs", "plot", store, "x", "y", "--html", out], "--html"),
        (["stress", "calm", "--accounts", "100", "--out", out], "--out"),
        (["simulate", "calm", "--accounts", "100", "--out", out], "--out"),
    ):
        assert_refused(invoke(args), option, str(out))
        assert not out.exists()


def test_nothing_is_left_when_a_run_is_interrupted_while_writing(tmp_path, monkeypatch):
    """Ctrl-C in the middle of writing the folder: the temporary folder goes, the lock too."""

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(atomic, "_publish", interrupted)
    result = invoke([*DEMO, "--out", tmp_path / "run"])
    assert result.exit_code != 0
    assert list(tmp_path.iterdir()) == []


def test_a_stale_lock_file_of_a_killed_process_does_not_block(tmp_path):
    out = tmp_path / "run"
    atomic.lock_path(out).write_text("999999")  # left by a process that died holding it
    result = invoke([*DEMO, "--out", out])
    assert result.exit_code == 0, result.stderr
    assert json.loads((out / "summary.json").read_text())["accounts"] == 100
