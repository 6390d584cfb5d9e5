"""Does a benchmark's warm-up compile every kernel it times? (Not a benchmark: run by hand.)

Runs one ``bench_*.py`` module's ``run()`` in this process on an empty numba cache folder and
records, for each kernel compiled from Python, the line of the benchmark module that was running
when it compiled. A compile on a line of the timed part means the warm-up missed that kernel and
the first ``make bench`` after the caches were deleted times a compile. Module constants can be
made smaller for a quicker check (compiling depends on the code paths, not on the sizes).

    NUMBA_CACHE_DIR=$(mktemp -d) python benchmarks/check_warmup.py bench_sim
    NUMBA_CACHE_DIR=$(mktemp -d) python benchmarks/check_warmup.py bench_liquidation N_ACCOUNTS=200000
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> None:
    if not os.environ.get("NUMBA_CACHE_DIR", "").startswith(tempfile.gettempdir()):
        sys.exit("run with NUMBA_CACHE_DIR set to a new empty folder under the temp dir")
    name, *overrides = sys.argv[1:]
    sys.path.insert(0, str(HERE))
    module = __import__(name)
    for item in overrides:
        key, value = item.split("=")
        setattr(module, key, type(getattr(module, key))(value))
    from numba.core import event

    path = str(HERE / f"{name}.py")
    depth = 0
    by_line: dict[int, list[str]] = defaultdict(list)
    seconds: dict[int, float] = defaultdict(float)

    class Watch(event.Listener):
        def on_start(self, ev):
            nonlocal depth
            depth += 1
            if depth == 1:
                self.t0 = time.process_time()
                frame, self.line = sys._getframe(), -1
                while frame is not None:  # the outermost line of the benchmark running
                    if frame.f_code.co_filename == path:
                        self.line = frame.f_lineno
                    frame = frame.f_back
                d = ev.data["dispatcher"].py_func
                by_line[self.line].append(f"{d.__module__}.{d.__qualname__}")

        def on_end(self, ev):
            nonlocal depth
            depth -= 1
            if depth == 0:
                seconds[self.line] += time.process_time() - self.t0

    with event.install_listener("numba:compile", Watch()):
        rows = module.run()
    lines = Path(path).read_text().splitlines()
    for line in sorted(by_line):
        code = lines[line - 1].strip() if line > 0 else "?"
        print(f"{name}.py:{line}  {code}")
        print(f"    {len(by_line[line])} entry kernels, {seconds[line]:.1f} s CPU: ", end="")
        print(", ".join(sorted(set(by_line[line]))))
    for row in rows:
        print(json.dumps(row))


if __name__ == "__main__":
    main()
