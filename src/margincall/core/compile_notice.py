"""Tell the user when numba is compiling kernels (a cold cache: the first run, or after an
upgrade), which can take minutes with no other sign of life.

:func:`compiling_notice` is a context manager (and, like any ``contextmanager``, a decorator)
that listens to numba's compile events: while a kernel compiles it shows a spinner line,
"compiling kernels (first run only)", on the given console, and nothing otherwise, so a warm run
shows nothing at all. It stays silent when the console is not a terminal (piped or captured
output). Inside a rich ``Progress`` on the same console the line shows under the bar (rich 14.1
and later nest live displays; an older rich shows the bar alone).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

from rich.console import Console
from rich.errors import LiveError
from rich.live import Live
from rich.spinner import Spinner

MESSAGE = "compiling kernels (first run only)"


class _CompileWatch:
    """Shows the spinner from the first kernel compile of a burst to the end of the last one
    (compiles nest: a kernel compiles its callees). :func:`_listener` makes it a numba event
    listener (numba is imported only when a notice is entered, not with this module)."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.depth = 0
        self.live: Live | None = None
        self.spinner = Spinner("dots", MESSAGE)  # one spinner: its frames run on across bursts
        self.compiled = 0

    def on_start(self, event) -> None:
        self.depth += 1
        self.compiled += 1
        if self.live is None:
            live = Live(
                self.spinner,
                console=self.console,
                transient=True,
                redirect_stdout=False,
                redirect_stderr=False,
            )
            try:
                live.start()
            except LiveError:  # rich before 14.1 does not nest live displays: no notice then
                return
            live.refresh()  # at once (nested under a progress bar, its display redraws)
            self.live = live

    def on_end(self, event) -> None:
        self.depth -= 1
        if self.depth == 0:
            self.close()

    def close(self) -> None:
        if self.live is not None:
            self.live.stop()
            self.live = None


@cache
def _listener() -> type:
    from numba.core.event import Listener

    return type("CompileWatch", (_CompileWatch, Listener), {})


@contextmanager
def compiling_notice(console: Console) -> Iterator[_CompileWatch | None]:
    """Show "compiling kernels (first run only)" with a spinner on ``console`` while numba
    compiles inside the block; nothing when nothing compiles or the console is no terminal."""
    if not console.is_terminal:
        yield None
        return
    from numba.core import event

    watch = _listener()(console)
    event.register("numba:compile", watch)
    try:
        yield watch
    finally:
        event.unregister("numba:compile", watch)
        watch.close()


def cold_cache_notice(console: Console, where: str = "each worker compiles them") -> bool:
    """For kernels compiled in other processes (a sweep's workers): print one line saying so
    when the kernel cache is cold. Returns whether it was."""
    from margincall.core.kernel_cache import cache_is_warm

    if cache_is_warm():
        return False
    console.print(f"{MESSAGE}: {where} before its first run, a few minutes")
    return True
