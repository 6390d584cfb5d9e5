"""Write a file or an output folder whole or not at all.

:func:`write_atomic` writes one file under a temporary name beside it, then renames it.

:func:`atomic_folder` yields a temporary folder beside the target; the caller fills it, and on
success it is made world-readable (0755) and renamed into place, so an interrupted write
(Ctrl-C, a crash, ``kill -9``) never leaves a half-written folder under the real name. On any
error the temporary folder is removed and the error propagates.

What happens to an ``out`` that already exists is the caller's choice:

- ``replace=True`` (``--force``): the old folder is renamed aside and removed only once the new
  one is in place.
- ``replace=False``: ``out`` may only be an empty folder, which is removed just before the rename
  (callers check for a non-empty ``out`` beforehand, with their own message).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_folder(out: Path, *, replace: bool) -> Iterator[Path]:
    """Yield a temporary folder next to ``out``; rename it to ``out`` when the block succeeds."""
    out = Path(out)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.resolve().parent))
    try:
        yield tmp
        os.chmod(tmp, 0o755)
        if out.exists() and replace:  # the old folder goes only once the new one is complete
            old = out.with_name(f".{out.name}.old-{os.getpid()}")
            out.rename(old)
            tmp.rename(out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            if out.exists():
                out.rmdir()  # an empty folder; a non-empty one raises and nothing is written
            tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


__all__ = ["atomic_folder"]


def write_atomic(path: str | Path, data: bytes | str) -> Path:
    """Write ``data`` (``str`` as UTF-8) to a temporary file next to ``path``, then rename it
    over ``path``."""
    path = Path(path)
    if isinstance(data, str):
        data = data.encode("utf-8")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)  # mkstemp creates 0600; give the usual permissions
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
