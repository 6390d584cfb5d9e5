"""Which kernels a cold run spends its compile time on (not a benchmark: run by hand).

Runs a scenario in this process with an empty numba cache folder and listens to numba's compile
events: each kernel's compile is timed inclusive of the callees it compiles and exclusive of them
(self), with the signatures it was compiled for. Then it lists the package's kernels that no
compile reached, and (``--calls``) which compiled kernels the run never executed, found by
running the same scenario with the JIT disabled (slow: use a small ``--calls-accounts``).

    python benchmarks/compile_profile.py feb-2026 --top 15 --json out.json
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import os
import pkgutil
import subprocess
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
    rows: dict[str, dict] = defaultdict(lambda: {"total": 0.0, "self": 0.0, "sigs": []})

    class Watch(event.Listener):
        def on_start(self, ev):
            stack.append([_name(ev.data["dispatcher"].py_func), time.perf_counter(), 0.0])

        def on_end(self, ev):
            name, start, child = stack.pop()
            total = time.perf_counter() - start
            row = rows[name]
            row["total"] += total
            row["self"] += total - child
            row["sigs"].append(str(ev.data["args"]))
            if stack:
                stack[-1][2] += total

    sc = load_scenario(scenario).with_overrides(accounts=accounts, hours=hours)
    t0 = time.perf_counter()
    with event.install_listener("numba:compile", Watch()):
        simulate(sc, 1)
    wall = time.perf_counter() - t0
    return {"wall": wall, "kernels": dict(rows)}


def executed(scenario: str, accounts: int, hours: float) -> set[str]:
    """Kernels the scenario calls, found in a child process with the JIT disabled."""
    code = f"""
import json, sys
from margincall.sim.run_folder import simulate
from margincall.sim.scenario import load_scenario
seen = set()
def hook(frame, ev, arg):
    if ev == "call" and frame.f_globals.get("__name__", "").startswith("margincall."):
        seen.add(frame.f_globals["__name__"].removeprefix("margincall.") + "."
                 + frame.f_code.co_qualname)
sys.setprofile(hook)
simulate(load_scenario({scenario!r}).with_overrides(accounts={accounts}, hours={hours}), 1)
sys.setprofile(None)
print(json.dumps(sorted(seen)))
"""
    env = {**os.environ, "NUMBA_DISABLE_JIT": "1"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    return set(json.loads(out.stdout.splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", nargs="?", default="feb-2026")
    parser.add_argument("--accounts", type=int)
    parser.add_argument("--hours", type=float)
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--calls", action="store_true", help="also find compiled-but-unrun")
    parser.add_argument("--calls-accounts", type=int, default=2000)
    parser.add_argument("--calls-hours", type=float, default=2.0)
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
    print(f"run {result['wall']:.1f} s, of which compiling {compile_total:.1f} s;", end=" ")
    print(f"{len(kernels)} kernels compiled of {len(every)} defined")
    print(f"{'kernel':58} {'self s':>7} {'incl s':>7} {'params':>6} {'sigs':>4}")
    top = sorted(kernels.items(), key=lambda kv: -kv[1]["self"])
    for name, row in top[: args.top]:
        n_sig = len(row["sigs"])
        print(f"{name:58} {row['self']:7.1f} {row['total']:7.1f} {row['params']!s:>6} {n_sig:4}")
    multi = {n: r["sigs"] for n, r in kernels.items() if len(r["sigs"]) > 1}
    print("compiled for more than one signature:", json.dumps(multi, indent=1) if multi else "none")
    if args.calls:
        ran = executed(args.scenario, args.calls_accounts, args.calls_hours)
        unrun = sorted(n for n in kernels if n not in ran)
        print(f"compiled but not executed ({len(unrun)}):")
        for n in unrun:
            print(f"  {n:58} self {kernels[n]['self']:6.1f} s")
        result["compiled_not_executed"] = unrun
    result["never_compiled"] = sorted(set(every) - set(kernels))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
