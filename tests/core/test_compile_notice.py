"""The "compiling kernels" notice shows while numba compiles, on a terminal only."""

from __future__ import annotations

import io

from numba import njit
from rich.console import Console

from margincall.core import kernel_cache
from margincall.core.compile_notice import MESSAGE, cold_cache_notice, compiling_notice


def _console(terminal: bool) -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, force_terminal=terminal, width=80), out


def _fresh_kernel():
    @njit  # a new function each call: numba compiles it on its first call
    def add(x, y):
        return x + y

    return add


def test_the_notice_shows_while_a_kernel_compiles() -> None:
    console, out = _console(terminal=True)
    with compiling_notice(console) as watch:
        assert _fresh_kernel()(1, 2) == 3
    assert MESSAGE in out.getvalue()
    assert watch is not None and watch.compiled == 1 and watch.live is None


def test_nothing_shows_when_nothing_compiles() -> None:
    kernel = _fresh_kernel()
    kernel(1, 2)  # compiled before the block
    console, out = _console(terminal=True)
    with compiling_notice(console) as watch:
        assert kernel(3, 4) == 7
    assert out.getvalue() == ""
    assert watch is not None and watch.compiled == 0


def test_nothing_shows_when_the_console_is_not_a_terminal() -> None:
    console, out = _console(terminal=False)
    with compiling_notice(console):
        _fresh_kernel()(1, 2)
    assert out.getvalue() == ""


def test_the_notice_decorates_a_function() -> None:
    console, out = _console(terminal=True)

    @compiling_notice(console)
    def work(x: int) -> int:
        return _fresh_kernel()(x, 1)

    assert work(1) == 2 and work(2) == 3  # a new context on each call
    assert out.getvalue().count(MESSAGE) >= 2


def test_the_cold_cache_line_for_kernels_compiled_elsewhere(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(kernel_cache, "_configured", tmp_path)  # an empty keyed folder
    console, out = _console(terminal=False)
    assert cold_cache_notice(console) is True
    assert MESSAGE in out.getvalue()
    (tmp_path / "venue_0a1b").mkdir()
    (tmp_path / "venue_0a1b" / "engine.step-10.py311.nbi").write_bytes(b"index")
    console, out = _console(terminal=False)
    assert cold_cache_notice(console) is False
    assert out.getvalue() == ""


def test_the_notice_nests_under_a_progress_bar_on_the_same_console() -> None:
    from rich.progress import Progress

    console, out = _console(terminal=True)
    with Progress(console=console, transient=True) as bar:
        bar.add_task("run", total=1)
        with compiling_notice(console) as watch:
            assert _fresh_kernel()(2, 2) == 4
    assert watch is not None and watch.compiled == 1 and watch.live is None
    assert MESSAGE in out.getvalue()
