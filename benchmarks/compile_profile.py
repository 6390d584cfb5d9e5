"""Which kernels a cold run spends its compile time on (not a benchmark: run by hand).

Runs a scenario in this process with an empty numba cache folder and listens to numba's compile
events. Each kernel's compile is timed in CPU seconds (steadier than wall time on a shared
machine; numba compiles on the calling thread), inclusive of the callees it compiles and
exclusive of them (self), with the signatures it was compiled for and whether Python called it
(an entry kernel) or only other kernels did. Which compiled code a run never executes cannot be
seen this way (numba compiles every callee a kernel names, whether the branch is taken or not,
and the kernels cannot run with the JIT disabled: their pointer intrinsics are compiled-only);
read it from the event log (no ADL event: the ADL code was compiled for nothing) and from the
rulebook dispatch.

    NUMBA_CACHE_DIR=$(mktemp -d) python benchmarks/compile_profile.py feb-2026 --json out.json
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import os
import pkgutil
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path


def _name(py_func) -> str:
    return f"{py_func.__module__.removeprefix('margincall.')}.{py_func.__qualname__}"


def _dispatchers() -> dict[str, object]:
    """Every numba dispatcher defined in a margincall module, by name."""
    from numba.core.registry import CPUDispatcher

    import margincall

    found = {}
    for info in pkgutil.walk_packages(margincall.__path__, "margincall."):
        if info.name.startswith(("margincall.web", "margincall.cli")):
            continue
        module = importlib.import_module(info.name)
        for value in vars(module).values():
            if isinstance(value, CPUDispatcher) and value.py_func.__module__ == info.name:
                found[_name(value.py_func)] = value
    return found


def profile_compiles(scenario: str, accounts: int | None, hours: float | None) -> dict:
    """Run the scenario on a cold cache; the compile events' times per kernel."""
    from numba.core import event

    from margincall.sim.run_folder import simulate
    from margincall.sim.scenario import load_scenario

    stack: list[list] = []  # [name, start, child seconds]
    rows: dict[str, dict] = defaultdict(
        lambda: {"total": 0.0, "self": 0.0, "llvm": 0.0, "sigs": []}
    )
    llvm_start = [0.0]

    class Watch(event.Listener):
        def on_start(self, ev):
            stack.append([_name(ev.data["dispatcher"].py_func), time.process_time(), 0.0])

        def on_end(self, ev):
            name, start, child = stack.pop()
            total = time.process_time() - start
            row = rows[name]
            row["total"] += total
            row["self"] += total - child
            row["sigs"].append(str(ev.data["args"]))
            row["entry"] = row.get("entry", False) or not stack
            if stack:
                stack[-1][2] += total

    class Llvm(event.Listener):  # time holding numba's LLVM lock: to the kernel compiling
        def on_start(self, ev):
            llvm_start[0] = time.process_time()

        def on_end(self, ev):
            if stack:
                rows[stack[-1][0]]["llvm"] += time.process_time() - llvm_start[0]

    sc = load_scenario(scenario).with_overrides(accounts=accounts, hours=hours)
    t0, c0 = time.perf_counter(), time.process_time()
    with (
        event.install_listener("numba:compile", Watch()),
        event.install_listener("numba:llvm_lock", Llvm()),
    ):
        simulate(sc, 1)
    return {
        "wall": time.perf_counter() - t0,
        "cpu": time.process_time() - c0,
        "kernels": dict(rows),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", nargs="?", default="feb-2026")
    parser.add_argument("--accounts", type=int)
    parser.add_argument("--hours", type=float)
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--json", type=Path, help="write everything here")
    args = parser.parse_args()
    if not os.environ.get("NUMBA_CACHE_DIR", "").startswith(tempfile.gettempdir()):
        sys.exit("run with NUMBA_CACHE_DIR set to a new empty folder under the temp dir")

    result = profile_compiles(args.scenario, args.accounts, args.hours)
    kernels = result["kernels"]
    every = _dispatchers()
    for name, row in kernels.items():
        d = every.get(name)
        row["params"] = len(inspect.signature(d.py_func).parameters) if d else None
    compile_total = sum(r["self"] for r in kernels.values())
    print(f"run {result['wall']:.1f} s wall, {result['cpu']:.1f} s CPU,", end=" ")
    print(f"of which compiling {compile_total:.1f} s CPU;", end=" ")
    print(f"{len(kernels)} kernels compiled of {len(every)} defined")
    llvm_total = sum(r["llvm"] for r in kernels.values())
    print(f"LLVM (optimising and emitting machine code) {llvm_total:.1f} s CPU of it")
    print(f"{'kernel':58} {'self':>7} {'llvm':>7} {'incl':>7} {'params':>6} {'sigs':>4}")
    top = sorted(kernels.items(), key=lambda kv: -kv[1]["self"])
    for name, row in top[: args.top]:
        n_sig = len(row["sigs"])
        print(
            f"{name:58} {row['self']:7.1f} {row['llvm']:7.1f} {row['total']:7.1f}"
            f" {row['params']!s:>6} {n_sig:4}"
        )
    multi = {n: len(r["sigs"]) for n, r in kernels.items() if len(r["sigs"]) > 1}
    print("compiled for more than one signature (see --json for them):", multi or "none")
    entries = sorted(n for n, r in kernels.items() if r["entry"])
    print(f"called from Python (the rest compile as callees): {', '.join(entries)}")
    result["never_compiled"] = sorted(set(every) - set(kernels))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
