"""What every command shares: the consoles and the one error path.

**The error path.** Every command runs inside :class:`Commands` (the app's click group), which
turns an *anticipated* failure into one line on stderr naming what and where, and exit status 2:

- :class:`InvalidInputError` (a bad value, file or folder; every check in margincall raises it)
  and :class:`SourceUnavailableError` (an exchange that cannot be reached);
- :class:`OSError` (a path that cannot be read or written, a full disk, a read-only folder);
- data that cannot be decoded: text that is not UTF-8, JSON, Parquet or DuckDB errors from a
  corrupted file.

Anything else is a bug: it prints one line saying so and exits with status 1. ``--debug``
prints the full traceback of any error (and a bug's exception propagates unchanged).

Commands add context where they know it: :func:`output_folder` holds the output folder's lock
for the whole command and names ``--out`` when writing it fails; :func:`reading` names the
option whose file could not be decoded. Nothing is written on failure: every output goes
through :mod:`margincall.core.atomic`.
"""

from __future__ import annotations

import errno
import json
import math
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

from margincall.core.atomic import output_lock
from margincall.core.errors import InvalidInputError, SourceUnavailableError

# the pick of one (venue, instrument) of a market run folder (monitor, stress --from)
MarketVenueOption = Annotated[
    str | None, typer.Option("--venue", help="a market run folder's venue (default: its first)")
]
MarketInstrumentOption = Annotated[
    str | None,
    typer.Option(
        "--instrument", help="a market run folder's instrument, BTCUSDT or BTC (default: BTC)"
    ),
]

# emoji=False: ":end:" in "start:end:step" is text, not an emoji code
console = Console(emoji=False)
err = Console(stderr=True, emoji=False)

# errno of a write that failed for want of room or of a writable medium (no file name given)
_WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS}


def usd_text(x: float | None) -> str:
    """Dollars for a table: ``$2.18B``, ``$9.3M``, ``-$2.0M`` (a fund that gained), ``-`` for
    none."""
    if x is None:
        return "-"
    sign = "-" if x < 0 else ""
    x = abs(x)
    return f"{sign}${x / 1e9:,.2f}B" if x >= 1e9 else f"{sign}${x / 1e6:,.1f}M"


def say(message: str) -> None:
    """One ``error:`` line on stderr (newlines folded, not read as markup, not wrapped)."""
    line = "; ".join(part.strip() for part in message.splitlines() if part.strip())
    err.print(f"[bold red]error:[/] {escape(line)}", soft_wrap=True, highlight=False)


def _data_errors() -> tuple[type[BaseException], ...]:
    """Decoding errors of the libraries that read users' files (only those already imported:
    an error cannot come from a library that was never loaded)."""
    found: list[type[BaseException]] = [UnicodeDecodeError, json.JSONDecodeError]
    if "duckdb" in sys.modules:
        found.append(sys.modules["duckdb"].Error)
    if "pyarrow" in sys.modules:
        found.append(sys.modules["pyarrow"].lib.ArrowException)
    if "polars" in sys.modules:
        found.append(sys.modules["polars"].exceptions.ComputeError)
    return tuple(found)


def describe(exc: BaseException) -> str | None:
    """The one-line message of an anticipated failure, or None for anything else (a bug)."""
    if isinstance(exc, InvalidInputError | SourceUnavailableError):
        return str(exc)
    if isinstance(exc, UnicodeDecodeError):
        return f"a file is not UTF-8 text ({exc.reason} at byte {exc.start})"
    if isinstance(exc, OSError):
        where = " -> ".join(str(f) for f in (exc.filename, exc.filename2) if f is not None)
        what = exc.strerror or str(exc) or type(exc).__name__
        return f"{where}: {what}" if where else what
    if isinstance(exc, _data_errors()):
        return f"unreadable data ({type(exc).__name__}: {exc})"
    return None


class Commands(TyperGroup):
    """The app's click group: runs every command inside the one error path (module doc)."""

    def invoke(self, ctx):  # type: ignore[no-untyped-def]
        try:
            return super().invoke(ctx)
        except Exception as exc:
            if type(exc).__module__.split(".")[0] in ("click", "typer"):
                raise  # exit, abort, usage errors: the command line's own control flow
            debug = bool(ctx.params.get("debug"))
            message = describe(exc)
            if message is None:
                if debug:
                    raise
                say(
                    f"internal error, a bug in margincall ({type(exc).__name__}: {exc}); "
                    "run again with --debug for the traceback and report it"
                )
                raise typer.Exit(1) from None
            if debug:
                traceback.print_exception(exc, file=sys.stderr)
            say(message)
            raise typer.Exit(2) from None


def _concerns(exc: OSError, target: Path) -> bool:
    """Whether ``exc`` came from writing ``target``: a file name at or inside it, one of its
    temporaries or its lock beside it, or no file name and a want of room or of a writable
    medium."""
    if exc.filename is None:
        return exc.errno in _WRITE_ERRNOS
    name = Path(str(exc.filename))
    target = Path(target)
    try:
        name, target = name.resolve(), target.resolve()
    except OSError:
        return False
    if name == target or target in name.parents:
        return True
    if target.parent not in name.parents:
        return False
    return name.parts[len(target.parent.parts)].startswith(f".{target.name}.")


@contextmanager
def writing(option: str, target: Path | None) -> Iterator[None]:
    """Name ``option`` and ``target`` when writing ``target`` fails with an :class:`OSError`."""
    try:
        yield
    except OSError as exc:
        if target is None or not _concerns(exc, target):
            raise
        raise InvalidInputError(
            option, str(target), f"a place you can write to ({exc.strerror or exc})"
        ) from exc


@contextmanager
def output_folder(out: Path | None, option: str = "--out") -> Iterator[None]:
    """Hold the lock of the output folder ``out`` for the block (a second margincall writing the
    same folder is refused), naming ``option`` when writing it fails. No-op for ``None``."""
    if out is None:
        yield
        return
    with writing(option, out), output_lock(out):
        yield


@contextmanager
def reading(option: str, source: Path | str | None) -> Iterator[None]:
    """Name ``option`` and ``source`` when the block fails to decode what it reads (text that
    is not UTF-8, broken JSON, a corrupted Parquet file or store)."""
    try:
        yield
    except (InvalidInputError, OSError):
        raise
    except _data_errors() as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InvalidInputError(
            option, str(source), f"readable files ({type(exc).__name__}: {first})"
        ) from exc


def check_new_folder(out: Path, option: str = "--out") -> None:
    """Refuse an ``out`` that is not a new or empty folder in a folder that exists."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InvalidInputError(option, str(out), "a new or empty folder")
    if not out.resolve().parent.is_dir():
        raise InvalidInputError(option, str(out), "a path whose parent folder exists")


def check_finite(**options: float | None) -> None:
    """Refuse an option given as ``inf`` or ``nan`` (``depth_1pct`` is named ``--depth-1pct``)."""
    for name, value in options.items():
        if value is not None and not math.isfinite(value):
            raise InvalidInputError(f"--{name.replace('_', '-')}", value, "a finite number")
