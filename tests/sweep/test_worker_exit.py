"""A local worker skips the interpreter's teardown when its pool shuts down, but still exits
cleanly: status 0, and what it printed is not lost."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_worker_exits_zero_and_flushes_its_output(tmp_path):
    script = textwrap.dedent(
        """
        import multiprocessing as mp
        import os
        from concurrent.futures import ProcessPoolExecutor
        from margincall.sweep.task import warm_up

        def speak(word):
            print(word, end="")  # no newline: still in the buffer when the worker exits
            return mp.current_process().pid

        if __name__ == "__main__":
            ctx = mp.get_context("spawn")
            pool = ProcessPoolExecutor(1, mp_context=ctx, initializer=warm_up, initargs=(os.getpid(),))
            pid = pool.submit(speak, "worker-said-this").result()
            procs = list(pool._processes.values())
            pool.shutdown(wait=True)
            print("\\nexit codes", [p.exitcode for p in procs])
        """
    )
    path = tmp_path / "pool.py"  # a file, so the spawned worker can import speak()
    path.write_text(script)
    done = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "worker-said-this" in done.stdout
    assert "exit codes [0]" in done.stdout
