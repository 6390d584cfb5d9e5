"""A worker process that dies (killed, segfault, out of memory) does not stop the sweep: the
pool is rebuilt, the other runs finish, and the run that kills its worker is recorded failed."""

from __future__ import annotations

from crashing_worker import crash_some
from sweep_helpers import write_spec

from margincall.store.db import query
from margincall.sweep import runner
from margincall.sweep.backends import LocalBackend


def test_a_dying_worker_is_replaced_and_its_run_recorded(tmp_path):
    spec = write_spec(tmp_path, hours=0.05)
    prep = runner.prepare(spec, tmp_path / "out", workers=2)
    prep.backend = LocalBackend(2, fn=crash_some)
    outcome = runner.run(prep)
    assert (outcome.ran, outcome.ok, outcome.failed) == (4, 3, 1)
    _, rows = query(tmp_path / "out", "SELECT run_index, status, error FROM runs ORDER BY 1")
    assert [r[1] for r in rows] == ["ok", "ok", "failed", "ok"]
    assert rows[2][2].startswith("WorkerDied")
