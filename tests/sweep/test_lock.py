"""One sweep per folder at a time: a second sweep on a folder that another sweep holds is
refused with the folder and the holder named; the lock goes with its process, even after
``kill -9``. A rows file that cannot be read stops a resume with its name."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from sweep_helpers import cli, write_spec

from margincall.core.errors import InvalidInputError
from margincall.store.lock import LOCK
from margincall.sweep.runner import prepare


def test_a_second_sweep_on_a_held_folder_is_refused_until_the_first_is_killed(tmp_path):
    spec = write_spec(tmp_path, seeds=10, hours=1)  # long enough to still run below
    out = tmp_path / "out"
    first = subprocess.Popen(
        [sys.executable, "-m", "margincall.cli", "sweep", str(spec), "--out", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        lock = out / LOCK
        while time.monotonic() < deadline and first.poll() is None:
            if lock.is_file() and lock.read_text().strip() == str(first.pid):
                break
            time.sleep(0.02)
        assert first.poll() is None, "the first sweep ended before the second started"
        second = cli("sweep", str(spec), "--out", str(out))
        assert second.returncode == 2, second.stderr
        line = second.stderr.strip()
        assert "\n" not in line and "Traceback" not in line
        assert str(out) in line and f"another sweep (process {first.pid}) holds it" in line
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    prep = prepare(spec, out)  # no stale lock after kill -9
    assert prep.resumed and len(prep.todo) > 0
    prep.release()


def test_the_lock_is_held_from_prepare_to_the_end_of_run(tmp_path):
    spec = write_spec(tmp_path)
    out = tmp_path / "out"
    held = prepare(spec, out, workers=1)
    with pytest.raises(InvalidInputError, match=f"another sweep \\(process {os.getpid()}\\)"):
        prepare(spec, out, workers=1)
    held.release()
    prepare(spec, out, workers=1).release()
    assert sorted(p.name for p in out.iterdir()) == [LOCK, "spec.toml", "study.json"]


def test_a_folder_with_only_a_lock_left_is_still_new(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / LOCK).write_text("12345\n")  # a sweep killed before it wrote its study
    assert len(prepare(write_spec(tmp_path), out, workers=1).todo) == 4


def test_a_corrupt_rows_file_stops_a_resume_with_its_name(tmp_path):
    spec = write_spec(tmp_path)
    out = tmp_path / "out"
    prepare(spec, out, workers=1).release()
    (out / "rows").mkdir()
    bad = out / "rows" / "00001-0123456789.parquet"
    bad.write_bytes(b"PAR1 not a whole file")
    r = cli("sweep", str(spec), "--out", str(out))
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert str(bad) in r.stderr and "move it away and run the sweep again" in r.stderr
