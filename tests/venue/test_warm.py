"""The first run's parallel compile (:mod:`margincall.venue.warm`): a cold cache starts a child
that compiles the liquidation path while this process compiles order entry; a warm one does
nothing. (How much wall time it saves is measured by ``benchmarks/bench_first_run.py``.)"""

from __future__ import annotations

from margincall.core.kernel_cache import cache_folder
from margincall.venue.warm import compile_on_two_cores


def test_a_warm_cache_starts_nothing(tmp_path):
    (tmp_path / "engine-kernel.nbi").write_bytes(b"")
    assert compile_on_two_cores(tmp_path) is False


def test_a_cold_cache_compiles_on_two_processes_and_the_child_succeeds(tmp_path):
    # an empty folder stands for a cold cache; the kernels themselves go to the configured
    # cache, where the child's liquidation kernels must be found afterwards
    assert compile_on_two_cores(tmp_path) is True
    cached = [p.name for p in cache_folder().rglob("*.nbi")]
    assert any(name.startswith("liquidation.liquidation_rounds-") for name in cached), cached
