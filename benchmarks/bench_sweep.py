"""Sweeps: the speed-up of 2 workers over 1 on 20 runs (local processes and Ray; the median of
three alternated pairs), and a 1,000-run Monte Carlo sweep of the ABIDES-sized day with its runs
per core-hour.

ABIDES takes about 28 s of wall time for one simulated day of its reference configuration, that
is about 130 runs per core-hour. The ABIDES-sized day is :func:`bench_sim.abides_sized` (the calm
preset divided into 1,000 leveraged accounts, about 1,100 agents, 60-second steps), written into
the sweep spec as ``[set]`` overrides of the calm preset. Each sweep's wall time includes
starting its workers (and their loading numba's on-disk cache), not starting Ray itself.

    python benchmarks/bench_sweep.py --runs 100     # fewer runs for the large sweep
"""

from __future__ import annotations

import json
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_sim import abides_sized  # noqa: E402
from margincall.sim.scenario import load_scenario  # noqa: E402
from margincall.sweep import runner  # noqa: E402

GROUP = "sweep"
SPEEDUP_RUNS = 20
BIG_RUNS = 1_000
WORKERS = 2
REPEATS = 3  # speed-up pairs per backend; the median is reported, the samples listed


def _flat(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def abides_spec(seeds: int, workers: int) -> str:
    """A spec of ``seeds`` ABIDES-sized days: calm plus the fields abides_sized() changes."""
    base = _flat(load_scenario("calm").model_dump(mode="json"))
    target = _flat(abides_sized().model_dump(mode="json"))
    lines = [
        'name = "abides-sized"',
        'scenario = "calm"',
        f"seeds = {seeds}",
        "[set]",
        *(f'"{k}" = {json.dumps(v)}' for k, v in target.items() if base.get(k) != v),
        "[backend]",
        f"workers = {workers}",
    ]
    return "\n".join(lines) + "\n"


def sweep_seconds(seeds: int, workers: int, backend: str) -> tuple[float, int]:
    """Wall seconds of a fresh sweep of ``seeds`` ABIDES-sized days; and its ok runs."""
    tmp = Path(tempfile.mkdtemp(prefix="bench-sweep-"))
    try:
        spec = tmp / "spec.toml"
        spec.write_text(abides_spec(seeds, workers))
        prep = runner.prepare(spec, tmp / "out", workers=workers, backend=backend)
        outcome = runner.run(prep)
        return outcome.wall, outcome.ok
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _ray_available() -> bool:
    try:
        import ray  # noqa: F401
    except ImportError:
        return False
    return True


def run(n_runs: int = BIG_RUNS) -> list[dict]:
    rows: list[dict] = []
    sweep_seconds(2, 1, "local")  # numba's disk cache warm before any timing
    backends = ["local", *(["ray"] if _ray_available() else [])]
    for backend in backends:
        ones, twos = [], []
        for _ in range(REPEATS):  # alternated, so a slow spell of the machine hits both
            one, ok1 = sweep_seconds(SPEEDUP_RUNS, 1, backend)
            two, ok2 = sweep_seconds(SPEEDUP_RUNS, WORKERS, backend)
            assert ok1 == ok2 == SPEEDUP_RUNS, f"{backend}: {ok1}, {ok2} ok runs"
            ones.append(one)
            twos.append(two)
        ratios = [a / b for a, b in zip(ones, twos, strict=True)]
        rows += [
            {
                "name": f"sweep_{backend}_20_runs_1_worker_seconds",
                "value": round(statistics.median(ones), 2),
                "unit": "s",
                "samples": [round(x, 2) for x in ones],
            },
            {
                "name": f"sweep_{backend}_20_runs_2_workers_seconds",
                "value": round(statistics.median(twos), 2),
                "unit": "s",
                "samples": [round(x, 2) for x in twos],
            },
            {
                "name": f"sweep_{backend}_speedup_2_over_1",
                "value": round(statistics.median(ratios), 2),
                "unit": "x",
                "samples": [round(x, 2) for x in ratios],
            },
        ]
    wall, ok = sweep_seconds(n_runs, WORKERS, "local")
    assert ok == n_runs, f"{ok} of {n_runs} runs ok"
    rows += [
        {"name": f"sweep_abides_sized_{n_runs}_runs_seconds", "value": round(wall, 1), "unit": "s"},
        {
            "name": "sweep_abides_sized_runs_per_core_hour",
            "value": round(n_runs / (wall * WORKERS / 3600)),
            "unit": "runs/core-hour",
        },
        {"name": "abides_runs_per_core_hour_reference", "value": 130, "unit": "runs/core-hour"},
    ]
    return rows


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=BIG_RUNS, help="runs of the large sweep")
    for row in run(parser.parse_args().runs):
        print(json.dumps(row), flush=True)
