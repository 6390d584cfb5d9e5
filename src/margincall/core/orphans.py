"""A helper process that ends with the process that started it, however that one ends.

:func:`die_with_parent` is called first thing in a child (a sweep's worker): on Linux it asks
the kernel to send the child ``SIGKILL`` when its parent dies (``prctl(PR_SET_PDEATHSIG)``),
which holds for ``kill -9`` of the parent too; elsewhere a daemon thread polls the parent's
pid. A parent that died before the request was in place is caught by comparing
:func:`os.getppid` with the pid the parent passed down.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
POLL_SECONDS = 0.5


def _watch(parent_pid: int) -> None:
    while os.getppid() == parent_pid:
        time.sleep(POLL_SECONDS)
    os._exit(1)


def die_with_parent(parent_pid: int) -> None:
    """End this process (``SIGKILL``) when the process ``parent_pid`` that started it dies."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"prctl(PR_SET_PDEATHSIG): {os.strerror(err)}")
    else:
        threading.Thread(target=_watch, args=(parent_pid,), daemon=True).start()
    if os.getppid() != parent_pid:  # the parent is already gone
        os._exit(1)
