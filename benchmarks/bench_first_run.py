"""A new user's first run: ``margincall simulate feb-2026`` (its 200,000 accounts, 24 h) in a
fresh process with an empty numba cache folder, then the same command again on the cache it
filled.

The cold run compiles every kernel the simulation uses; the warm run loads them from the cache.
Both are wall seconds of the whole command as a user types it (interpreter start, imports, the
run, the summary); the compile time within the first run is their difference.

    python benchmarks/bench_first_run.py --accounts 2000    # a quicker check
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GROUP = "first_run"
SCENARIO = "feb-2026"
MARK_ENV = "MARGINCALL_NUMBA_CACHE_DIR"  # margincall.core.kernel_cache.MARK_ENV


def simulate_seconds(cache: Path, accounts: int | None = None) -> tuple[float, float]:
    """Wall and CPU seconds of ``margincall simulate`` in a fresh process caching kernels in
    ``cache`` (CPU time moves less than wall time on a busy machine)."""
    env = {k: v for k, v in os.environ.items() if k != MARK_ENV}
    env["NUMBA_CACHE_DIR"] = str(cache)
    args = ["simulate", SCENARIO, "--json"]
    if accounts is not None:
        args += ["--accounts", str(accounts)]
    code = "import sys; from margincall.cli import main; sys.argv[0] = 'margincall'; main()"
    cpu0 = _children_cpu()
    t0 = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", code, *args], env=env, capture_output=True, text=True
    )
    seconds = time.perf_counter() - t0
    if done.returncode != 0:
        raise RuntimeError(f"margincall {' '.join(args)} exited {done.returncode}: {done.stderr}")
    return seconds, _children_cpu() - cpu0


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(accounts: int | None = None) -> list[dict]:
    cache = Path(tempfile.mkdtemp(prefix="bench-first-run-"))
    try:
        cold, cold_cpu = simulate_seconds(cache, accounts)
        if not any(cache.rglob("*.nbi")):
            raise RuntimeError(f"the first run cached no kernel in {cache}")
        keyed = sorted(cache.iterdir())
        warm, warm_cpu = simulate_seconds(cache, accounts)
        if sorted(cache.iterdir()) != keyed:  # a new keyed folder: the warm run compiled
            raise RuntimeError("the kernel sources changed between the two runs")
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    return [
        {"name": "first_run_seconds", "value": round(cold, 1), "unit": "s"},
        {"name": "warm_run_seconds", "value": round(warm, 1), "unit": "s"},
        {"name": "first_run_compile_seconds", "value": round(cold - warm, 1), "unit": "s"},
        {"name": "first_run_cpu_seconds", "value": round(cold_cpu, 1), "unit": "s"},
        {"name": "warm_run_cpu_seconds", "value": round(warm_cpu, 1), "unit": "s"},
    ]


if __name__ == "__main__":
    import argparse
    import json

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, help="accounts (default: the preset's)")
    for row in run(parser.parse_args().accounts):
        print(json.dumps(row), flush=True)
