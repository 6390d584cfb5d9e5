"""The kernel cache is keyed on the kernels' sources, so it never serves stale machine code."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

import margincall
from margincall.core import kernel_cache as kc

SRC = Path(margincall.__file__).resolve().parents[1]
PACKAGE = Path(margincall.__file__).resolve().parent

TINY_INIT = """\
import os
from pathlib import Path

if not os.environ.get("TINYK_PLAIN"):  # plain numba caching, for comparison
    from margincall.core.kernel_cache import configure

    configure(Path(__file__).resolve().parent, "1.0")
"""
TINY_CALLEE = """\
from numba import njit


@njit(cache=True)
def step(x):
    return x + {add}
"""
TINY_KERNEL = """\
from numba import njit

from tinyk.callee import step


@njit(cache=True)
def run(x):
    return step(x) * 10
"""


def _tiny_package(root: Path, add: int) -> Path:
    pkg = root / "tinyk"
    pkg.mkdir(parents=True, exist_ok=True)
    (pkg / "__init__.py").write_text(TINY_INIT)
    (pkg / "kernel.py").write_text(TINY_KERNEL)
    _write_callee(pkg, add)
    return pkg


def _write_callee(pkg: Path, add: int) -> None:
    path = pkg / "callee.py"
    old = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(TINY_CALLEE.format(add=add))
    # numba stamps a source by mtime and size: make sure the edit moves the mtime
    if old:
        os.utime(path, ns=(old + 2_000_000_000, old + 2_000_000_000))


def _run_tiny(root: Path, cache: Path, *, plain: bool) -> int:
    env = {k: v for k, v in os.environ.items() if k != kc.MARK_ENV}
    env["NUMBA_CACHE_DIR"] = str(cache)
    env["PYTHONPATH"] = os.pathsep.join([str(root), str(SRC)])
    env.pop("TINYK_PLAIN", None)
    if plain:
        env["TINYK_PLAIN"] = "1"
    code = "from tinyk.kernel import run; print(run(1))"
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    return int(out.stdout.strip())


def _index_files(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.nbi"))


@pytest.mark.parametrize("plain", [True, False], ids=["plain-numba", "keyed"])
def test_an_edited_callee_in_another_file_is_recompiled(tmp_path: Path, plain: bool) -> None:
    root, cache = tmp_path / "pkg", tmp_path / "cache"
    pkg = _tiny_package(root, add=1)
    before = kc.source_key(pkg, "1.0")
    assert _run_tiny(root, cache, plain=plain) == 20
    assert _index_files(cache), "the first run cached nothing"
    _write_callee(pkg, add=2)
    after = kc.source_key(pkg, "1.0")
    result = _run_tiny(root, cache, plain=plain)
    if plain:
        # what this module guards against: numba alone serves the caller's stale machine code
        assert result == 20
    else:
        assert result == 30
        assert before != after
        # one folder per version of the sources, each with both kernels
        for key in (before, after):
            assert len(_index_files(cache / key)) == 2
        files = _index_files(cache)
        assert _run_tiny(root, cache, plain=plain) == 30  # same sources: same folder, reused
        assert _index_files(cache) == files


def test_the_cache_files_land_in_the_keyed_folder(tmp_path: Path) -> None:
    root, cache = tmp_path / "pkg", tmp_path / "cache"
    pkg = _tiny_package(root, add=1)
    _run_tiny(root, cache, plain=False)
    folder = cache / kc.source_key(pkg, "1.0")
    files = {p.name.split(".")[1].split("-")[0] for p in _index_files(folder)}
    assert files == {"step", "run"}
    assert kc.cache_is_warm(folder)
    assert not kc.cache_is_warm(cache / "0123456789abcdef")


def _copy_package(tmp_path: Path) -> Path:
    copy = tmp_path / "margincall"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


def test_the_key_changes_with_a_kernel_source_and_the_version(tmp_path: Path) -> None:
    copy = _copy_package(tmp_path)
    key = kc.source_key(copy, "0.1.0")
    assert kc.source_key(copy, "0.1.0") == key  # deterministic
    assert kc.source_key(PACKAGE, "0.1.0") == key  # the folder's place does not matter
    assert kc.source_key(copy, "0.1.1") != key
    # a file that holds no kernel and that no kernel imports: the cache stays valid
    with (copy / "cli.py").open("a") as f:
        f.write("# an edit of the command line\n")
    assert kc.source_key(copy, "0.1.0") == key
    keys = {key}
    # a venue kernel's file, and a constant a kernel reads from a module that imports no numba
    for rel in ("venue/ledger.py", "events/schema.py"):
        with (copy / rel).open("a") as f:
            f.write("# an edit\n")
        keys.add(kc.source_key(copy, "0.1.0"))
    assert len(keys) == 3


def test_kernel_sources_follow_imports_from_the_numba_modules() -> None:
    sources = kc.kernel_sources(PACKAGE)
    assert "venue/engine.py" in sources and "agents/makers.py" in sources
    assert "events/schema.py" in sources  # EventKind constants are frozen into the kernels
    assert "core/units.py" in sources
    assert not {"cli.py", "web/app.py", "report/figures.py", "store/db.py"} & set(sources)
    # numba imported inside a function only: no kernel there, editing it keeps the cache
    assert not {"core/compile_notice.py", "core/kernel_cache.py"} & set(sources)


def test_hashing_is_cheap() -> None:
    kc.source_key(PACKAGE, "0")
    t0 = time.process_time()
    for _ in range(5):
        kc.source_key(PACKAGE, "0")
    per_call = (time.process_time() - t0) / 5
    assert per_call < 0.05, f"{per_call * 1000:.1f} ms of CPU per key"


def test_importing_the_package_points_numba_at_the_keyed_folder() -> None:
    import numba.core.config

    from margincall.venue import ledger

    folder = kc.cache_folder()
    assert folder.name == kc.source_key(PACKAGE, margincall.__version__)
    assert str(folder) == numba.core.config.CACHE_DIR
    dispatcher = next(
        v for v in vars(ledger).values() if hasattr(v, "py_func") and hasattr(v, "_cache")
    )
    assert Path(dispatcher._cache._cache_path).is_relative_to(folder)


def _child_cache_dir(env: dict[str, str]) -> str:
    code = "import margincall.core.kernel_cache as k; print(k.cache_folder())"
    env = {**env, "PYTHONPATH": str(SRC)}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    return out.stdout.strip()


def test_the_base_is_the_users_folder_and_a_child_keeps_it(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in (kc.MARK_ENV, "NUMBA_CACHE_DIR")}
    key = kc.source_key(PACKAGE, margincall.__version__)
    user = {**env, "NUMBA_CACHE_DIR": str(tmp_path / "mine")}
    assert _child_cache_dir(user) == str(tmp_path / "mine" / key)
    # a child of a process that imported margincall inherits the keyed folder it set
    inherited = {**env, "NUMBA_CACHE_DIR": str(tmp_path / "mine" / key)}
    inherited[kc.MARK_ENV] = inherited["NUMBA_CACHE_DIR"]
    assert _child_cache_dir(inherited) == str(tmp_path / "mine" / key)
    xdg = {**env, "XDG_CACHE_HOME": str(tmp_path / "xdg")}
    assert _child_cache_dir(xdg) == str(tmp_path / "xdg" / "margincall" / "numba" / key)
    (tmp_path / "a-file").write_text("")  # a base that cannot be made: the temporary folder
    unwritable = {**env, "NUMBA_CACHE_DIR": str(tmp_path / "a-file" / "cache")}
    fallback = Path(_child_cache_dir(unwritable))
    assert fallback.parent.parent == Path(tempfile.gettempdir())
    assert fallback.name == key and fallback.is_dir()


def test_prune_removes_only_old_keyed_folders(tmp_path: Path) -> None:
    old, fresh, keep = (tmp_path / k for k in ("a" * 16, "b" * 16, "c" * 16))
    other = tmp_path / "not-a-key"
    for p in (old, fresh, keep, other):
        p.mkdir()
    long_ago = time.time() - 90 * 86_400
    for p in (old, keep, other):
        os.utime(p, (long_ago, long_ago))
    assert kc.prune(tmp_path, keep=keep) == [old]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        p.name for p in (fresh, keep, other)
    )
