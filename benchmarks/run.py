"""Run the benchmarks and print one JSON line per measurement: {"name", "value", "unit"}.

Each ``bench_*.py`` module here declares ``GROUP`` and ``run() -> list[dict]``. Every module runs
in a fresh process (so compile caches are warm but memory is its own); the runner adds the
process's peak resident memory as ``<module>_peak_rss``. ``--only GROUP`` runs one group.

    python benchmarks/run.py --only venue
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import multiprocessing as mp
import resource
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _load(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _child(path: str, queue: mp.Queue) -> None:
    try:
        rows = _load(Path(path)).run()
        peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        rows.append(
            {
                "name": f"{Path(path).stem.removeprefix('bench_')}_peak_rss",
                "value": round(peak_mib, 1),
                "unit": "MiB",
            }
        )
        queue.put(("ok", rows))
    except BaseException as exc:  # report, do not hang the parent
        queue.put(("error", f"{type(exc).__name__}: {exc}"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="run only this group (e.g. venue)")
    args = parser.parse_args(argv)
    modules = sorted(HERE.glob("bench_*.py"))
    groups = {p: getattr(_load(p), "GROUP", "misc") for p in modules}
    if args.only and args.only not in set(groups.values()):
        print(
            f"unknown group {args.only!r}: expected one of {sorted(set(groups.values()))}",
            file=sys.stderr,
        )
        return 2
    failed = False
    ctx = mp.get_context("spawn")
    for path, group in groups.items():
        if args.only and group != args.only:
            continue
        queue = ctx.Queue()
        proc = ctx.Process(target=_child, args=(str(path), queue))
        proc.start()
        status, payload = queue.get()
        proc.join()
        if status != "ok":
            print(f"{path.name}: {payload}", file=sys.stderr)
            failed = True
            continue
        for row in payload:
            print(json.dumps({"group": group, **row}), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
