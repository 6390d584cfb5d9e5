"""One writer per store: an exclusive ``flock`` on ``DIR/.sweep.lock`` while a sweep runs.

The lock belongs to the open file, so it goes with the process however that ends (``kill -9``
included): a killed sweep never leaves a stale lock, and the file itself may stay. The holder
writes its process id into the file, for the message another sweep gets.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import BinaryIO

from margincall.core.errors import InvalidInputError

LOCK = ".sweep.lock"


def lock_store(out: Path) -> BinaryIO:
    """Hold the lock of the store in ``out`` (an existing folder) until the returned file is
    closed or the process ends; refuse when another process holds it."""
    path = Path(out) / LOCK
    try:
        handle = open(path, "a+b")  # noqa: SIM115 - held open for as long as the lock is
    except OSError as exc:
        raise InvalidInputError(
            "--out", str(out), f"a folder you can write to ({exc.strerror}); choose another --out"
        ) from None
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().decode("ascii", "replace").strip() or "unknown"
        handle.close()
        raise InvalidInputError(
            "--out",
            str(out),
            f"a folder no other sweep is using: another sweep (process {holder}) holds it "
            f"({path}); wait for it to finish or choose another --out",
        ) from None
    handle.truncate(0)
    handle.write(f"{os.getpid()}\n".encode())
    handle.flush()
    return handle
