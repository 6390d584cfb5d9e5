"""Write a file or an output folder whole or not at all, one writer per folder at a time.

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

**One writer per folder.** :func:`output_lock` holds an exclusive ``flock`` on
``.NAME.margincall.lock`` beside ``out`` (``NAME`` is the folder's name), so a second process
writing the same ``out`` is refused with the holder's pid. The kernel drops the lock when its
process ends, however it ends, so a killed run never blocks the next one. The lock is re-entrant
within one thread (a command holds it for its whole run, and :func:`atomic_folder` takes it
again); another thread of the same process is refused like another process.

**Leftovers of a killed run.** The temporary folders are named ``.NAME.margincall-tmp-PID-XXXX``
(and ``.NAME.margincall-old-PID`` for a replaced folder). A ``kill -9`` leaves them behind; the
next :func:`atomic_folder` in the same parent folder removes every such leftover whose target no
live writer holds.
"""

from __future__ import annotations

import errno
import fcntl
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from margincall.core.errors import InvalidInputError

LOCK_SUFFIX = ".margincall.lock"
TMP_TAG = ".margincall-tmp-"
OLD_TAG = ".margincall-old-"
_LEFTOVER = re.compile(r"^\.(?P<name>.+)\.margincall-(?:tmp|old)-\d+(?:-.*)?$")

_held: dict[str, tuple[int, int, int]] = {}  # lock path -> (fd, owner thread, depth)
_held_guard = threading.Lock()
_live: set[Path] = set()  # temporary folders this process is filling


def lock_path(out: Path) -> Path:
    """The lock file of the output folder ``out``: ``.NAME.margincall.lock`` beside it."""
    out = Path(out)
    return out.resolve().parent / f".{out.name}{LOCK_SUFFIX}"


def _holder(path: Path) -> str:
    try:
        pid = path.read_text("ascii").strip()
    except (OSError, UnicodeDecodeError):
        pid = ""
    return f"process {pid}" if pid.isdigit() else "another process"


def _try_flock(path: Path) -> int | None:
    """An fd holding the exclusive lock on ``path``, or None when someone else holds it."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        except BaseException:
            os.close(fd)
            raise
        # the previous holder unlinks the file on release: lock the file that is at the path
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(path))
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)


def _release(path: Path, fd: int) -> None:
    with suppress(FileNotFoundError):
        os.unlink(path)  # while still holding it, so no waiter locks a file that goes away
    os.close(fd)


@contextmanager
def output_lock(out: Path) -> Iterator[None]:
    """Hold the lock of the output folder ``out`` (see the module docstring).

    Raises:
        InvalidInputError: another process (or thread) is writing ``out``.
        OSError: the lock file cannot be created (for example a read-only parent folder).
    """
    path = lock_path(out)
    key = str(path)
    me = threading.get_ident()
    with _held_guard:
        held = _held.get(key)
        if held is not None and held[1] == me:
            _held[key] = (held[0], me, held[2] + 1)
            fd = None
        else:
            fd = None if held is not None else _try_flock(path)
            if fd is None:
                raise InvalidInputError(
                    "--out",
                    str(out),
                    f"a folder no other margincall is writing ({_holder(path)} holds {path})",
                )
            try:  # the holder's pid, for the message of a refused writer (best effort)
                os.ftruncate(fd, 0)
                os.write(fd, str(os.getpid()).encode("ascii"))
            except OSError:
                pass
            _held[key] = (fd, me, 1)
    try:
        yield
    finally:
        with _held_guard:
            fd, owner, depth = _held[key]
            if depth > 1:
                _held[key] = (fd, owner, depth - 1)
            else:
                del _held[key]
                _release(path, fd)


def clean_leftovers(parent: Path) -> list[Path]:
    """Remove the temporary folders of killed writers in ``parent`` (those whose target no live
    writer holds, this thread's own targets included); returns what was removed."""
    removed: list[Path] = []
    try:
        entries = sorted(Path(parent).iterdir())
    except OSError:
        return removed
    for entry in entries:
        m = _LEFTOVER.match(entry.name)
        if m is None or entry in _live or not entry.is_dir() or entry.is_symlink():
            continue
        try:
            with output_lock(entry.with_name(m.group("name"))):
                shutil.rmtree(entry, ignore_errors=True)
        except InvalidInputError:
            continue  # its writer is alive
        except OSError:
            continue
        removed.append(entry)
    return removed


@contextmanager
def atomic_folder(out: Path, *, replace: bool) -> Iterator[Path]:
    """Yield a temporary folder next to ``out``; rename it to ``out`` when the block succeeds."""
    out = Path(out)
    parent = out.resolve().parent
    with output_lock(out):
        clean_leftovers(parent)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}{TMP_TAG}{os.getpid()}-", dir=parent))
        _live.add(tmp)
        try:
            yield tmp
            os.chmod(tmp, 0o755)
            _publish(tmp, out, replace)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        finally:
            _live.discard(tmp)


def _publish(tmp: Path, out: Path, replace: bool) -> None:
    """Rename the finished ``tmp`` to ``out``."""
    if out.exists() and replace:  # the old folder goes only once the new one is complete
        old = out.with_name(f".{out.name}{OLD_TAG}{os.getpid()}")
        out.rename(old)
        tmp.rename(out)
        shutil.rmtree(old, ignore_errors=True)
        return
    if out.exists():
        try:
            out.rmdir()  # an empty folder; a non-empty one raises and nothing is written
        except OSError as exc:
            if exc.errno in (errno.ENOTEMPTY, errno.EEXIST):
                raise InvalidInputError("--out", str(out), "a new or empty folder") from None
            raise
    tmp.rename(out)


__all__ = ["atomic_folder", "clean_leftovers", "lock_path", "output_lock", "write_atomic"]


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
