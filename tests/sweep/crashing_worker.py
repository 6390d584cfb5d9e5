"""A worker function for the crash test: run the task, but kill the worker process outright
(as the OOM killer or a segfault would) for the runs named in ``CRASH``."""

from __future__ import annotations

import os

from margincall.sweep.task import Task, execute

CRASH = {2}  # run indexes whose worker dies every time


def crash_some(task: Task):
    if task.index in CRASH:
        os._exit(9)
    return execute(task)
