"""The study does not depend on the backend: a local Ray instance (num_cpus=2) gives the same
rows as local processes."""

from __future__ import annotations

import pytest
from sweep_helpers import cli, rows_without_wall, write_spec

from margincall.sweep import runner


def test_ray_gives_the_same_rows_as_local(tmp_path):
    ray = pytest.importorskip("ray", reason="ray is not installed: pip install 'margincall[ray]'")
    spec = write_spec(tmp_path, seeds=2, hours=0.05)
    local = tmp_path / "local"
    r = cli("sweep", str(spec), "--out", str(local))
    assert r.returncode == 0, r.stderr
    assert ray.is_initialized() is False
    prep = runner.prepare(spec, tmp_path / "ray", backend="ray", workers=2)
    try:
        assert ray.cluster_resources().get("CPU") == 2
        outcome = runner.run(prep)
    finally:
        if ray.is_initialized():
            ray.shutdown()
    assert (outcome.ran, outcome.ok, outcome.failed) == (8, 8, 0)
    rows = rows_without_wall(local)
    assert len(rows) == 8
    assert rows_without_wall(tmp_path / "ray") == rows
