"""Resume: a sweep killed with SIGKILL part-way and run again gives every run exactly once,
with the same rows as an uninterrupted sweep; a failing run is recorded and does not stop it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from sweep_helpers import cli, rows_without_wall, write_spec

from margincall.store.db import query
from margincall.store.rows import rows_dir
from margincall.sweep.runner import prepare
from margincall.sweep.spec import load_spec

RUNS = 24  # 2 fund sizes x 2 leverage caps x 6 seeds


def test_sigkill_part_way_then_resume_gives_every_run_once(tmp_path):
    spec = write_spec(tmp_path, seeds=6, hours=0.2)
    out = tmp_path / "killed"
    proc = subprocess.Popen(
        [sys.executable, "-m", "margincall.cli", "sweep", str(spec), "--out", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: the workers die with it
    )
    deadline = time.monotonic() + 90
    rows = rows_dir(out)
    while time.monotonic() < deadline and proc.poll() is None:
        if rows.is_dir() and len(list(rows.glob("*.parquet"))) >= 4:
            break
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = len(list(rows.glob("*.parquet")))
    assert 4 <= done_before < RUNS, f"the kill was not part-way ({done_before} rows)"

    r = cli("sweep", str(spec), "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert f"{done_before:,} already done (resumed)" in r.stderr
    assert f"{RUNS - done_before:,} to run" in r.stderr

    ids = [run.run_id for run in load_spec(spec).runs]
    _, counts = query(out, "SELECT run_id, count(*) FROM runs GROUP BY 1")
    assert sorted(counts) == sorted((i, 1) for i in ids)
    assert not list(rows.glob(".*"))  # no temporary file left behind

    whole = tmp_path / "whole"
    r = cli("sweep", str(spec), "--out", str(whole))
    assert r.returncode == 0, r.stderr
    assert rows_without_wall(out) == rows_without_wall(whole)
    _, ok = query(out, "SELECT count(*) FROM runs WHERE status = 'ok' AND price_end > 0")
    assert ok == [(RUNS,)]


def test_failing_run_is_recorded_and_the_sweep_goes_on(tmp_path):
    broken = tmp_path / "broken_rulebook.toml"
    broken.write_text('name = "broken"\n[instrument]\ntick_size = "not a number"\n')
    spec = write_spec(tmp_path, hours=0.05)
    spec.write_text(
        spec.read_text().replace(
            "[backend]", f'"run.rulebook" = ["binance", "{broken}"]\n[backend]'
        )
    )
    out = tmp_path / "out"
    r = cli("sweep", str(spec), "--out", str(out))
    assert r.returncode == 0, r.stderr
    _, rows = query(
        out, "SELECT param_run_rulebook, status, error, price_end FROM runs ORDER BY run_index"
    )
    assert len(rows) == 8
    good = [x for x in rows if x[0] == "binance"]
    bad = [x for x in rows if x[0] != "binance"]
    assert all(s == "ok" and e is None and p > 0 for _, s, e, p in good)
    assert all(s == "failed" and e and p is None for _, s, e, p in bad)
    assert "broken_rulebook" in r.stderr or "failed" in r.stderr
    assert prepare(spec, out).todo == []  # a resume has nothing left to run
    assert len(prepare(spec, out, retry_failed=True).todo) == 4  # unless asked to retry
