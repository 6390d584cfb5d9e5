"""Where numba caches the compiled kernels: a folder keyed on the kernels' sources.

numba's own cache checks only the file that defines a kernel: a kernel whose callee (or a
constant it reads) lives in another file keeps serving the old machine code after that file
changes, and after an upgrade that would run old code on new data layouts. So the cache folder
is ``<base>/<key>/``, where the key is a short SHA-256 of the package version, numba's version,
Python's and the bytes of every kernel source: each module that imports numba at its top level and
every module of the package those import, followed transitively. A change to any of them starts a new folder.

``base`` is ``$NUMBA_CACHE_DIR`` when the user set it, else ``$XDG_CACHE_HOME/margincall/numba``
(``~/.cache/margincall/numba``). :func:`configure` must run before the first ``cache=True``
kernel is decorated; ``margincall/__init__.py`` calls it. It sets ``NUMBA_CACHE_DIR`` in the
environment (numba reads it when imported and again on each compile), so numba code of the same
process, and child processes, cache there too; a child that imports the package finds its base
again through ``MARGINCALL_NUMBA_CACHE_DIR``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

KEY_CHARS = 16
MARK_ENV = "MARGINCALL_NUMBA_CACHE_DIR"  # the keyed folder set by this module
PRUNE_AFTER_DAYS = 30  # keyed folders unused this long are removed (default base only)

# at a module's top level, where kernels are defined (a lazy import inside a function, as in
# compile_notice.py, uses numba without defining kernels)
_NUMBA_IMPORT = re.compile(rb"^(?:import|from)[ \t]+numba\b", re.M)
_KEY_NAME = re.compile(rf"^[0-9a-f]{{{KEY_CHARS}}}$")
_configured: Path | None = None  # the folder configure() chose in this process


def _imports(text: bytes, package: str) -> set[str]:
    """Dotted names (below ``package``) that a module's text imports, with imported names as
    candidate submodules: ``from p.a import b, c`` gives ``a``, ``a.b`` and ``a.c``. Matched as
    text, so an import quoted in a docstring counts too (which only adds a file to the key)."""
    pkg = re.escape(package.encode())
    out: set[str] = set()
    for m in re.finditer(rb"import " + pkg + rb"\.([\w.]+)", text):
        out.add(m.group(1).decode())
    pattern = rb"from " + pkg + rb"(\.[\w.]+)? import (\([^)]*\)|[^\n]*)"
    for m in re.finditer(pattern, text):
        base = (m.group(1) or b"").decode().lstrip(".")
        if base:
            out.add(base)
        for name in re.findall(rb"\w+", re.sub(rb"#[^\n]*|\bas\s+\w+", b"", m.group(2))):
            out.add(f"{base}.{name.decode()}".lstrip("."))
    return out


def _modules(root: Path) -> dict[str, tuple[str, bytes]]:
    """Every module under ``root`` by dotted name (a package by its own name), with its path
    relative to ``root`` and its bytes."""
    out = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        rel = os.path.relpath(folder, root)
        prefix = "" if rel == "." else rel.replace(os.sep, ".") + "."
        for name in files:
            if name.endswith(".py"):
                with open(os.path.join(folder, name), "rb") as f:
                    text = f.read()
                dotted = prefix + name[:-3] if name != "__init__.py" else prefix.rstrip(".")
                out[dotted] = ((prefix.replace(".", "/") + name), text)
    return out


def kernel_sources(root: Path) -> dict[str, bytes]:
    """The package's modules that import numba at their top level and the package modules those
    import (transitively): their paths relative to ``root``, sorted, with their bytes."""
    modules = _modules(root)
    todo = [d for d, (_, t) in modules.items() if b"numba" in t and _NUMBA_IMPORT.search(t)]
    seen = set(todo)
    while todo:
        for dotted in _imports(modules[todo.pop()][1], root.name):
            if dotted in modules and dotted not in seen:
                seen.add(dotted)
                todo.append(dotted)
    return dict(sorted(modules[d] for d in seen))


def _numba_version() -> bytes:
    """numba's version file (read, not imported: importing numba or importlib.metadata takes
    tenths of a second, and ``import margincall`` runs this)."""
    spec = importlib.util.find_spec("numba")
    if spec is None or spec.origin is None:
        return b"no numba"
    try:
        return (Path(spec.origin).parent / "_version.py").read_bytes()
    except OSError:
        return spec.origin.encode()


def source_key(root: Path, version: str) -> str:
    """Short SHA-256 of ``version``, numba's and Python's versions and the kernel sources."""
    h = hashlib.sha256()
    h.update(f"{version}\0{sys.implementation.cache_tag}\0".encode())
    h.update(_numba_version())
    for rel, data in kernel_sources(root).items():
        h.update(f"{rel}\0{len(data)}\0".encode())
        h.update(data)
    return h.hexdigest()[:KEY_CHARS]


def default_base() -> Path:
    """``$XDG_CACHE_HOME/margincall/numba``, else ``~/.cache/margincall/numba``."""
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "margincall" / "numba"


def cache_base() -> Path:
    """The folder the keyed folders go in: the user's ``NUMBA_CACHE_DIR`` or the default."""
    env = os.environ.get("NUMBA_CACHE_DIR", "")
    if env and env == os.environ.get(MARK_ENV):
        return Path(env).parent  # set by this module in a parent process
    return Path(env) if env else default_base()


def configure(root: Path, version: str) -> Path:
    """Point numba's cache at ``<base>/<key>/`` for the package at ``root``; return that folder.

    Call before the package's first ``cache=True`` kernel is decorated. When the base cannot be
    written (a read-only home), the keyed folder goes under the temporary folder instead.
    """
    global _configured
    key = source_key(root, version)
    base = cache_base()
    user = os.getuid() if hasattr(os, "getuid") else "user"
    for candidate in (base, Path(tempfile.gettempdir()) / f"margincall-numba-{user}"):
        try:
            (candidate / key).mkdir(parents=True, exist_ok=True)
            os.utime(candidate / key)  # marks the folder as in use, for prune()
        except OSError:
            continue
        base = candidate
        break
    folder = _configured = base / key
    os.environ["NUMBA_CACHE_DIR"] = os.environ[MARK_ENV] = str(folder)
    config = sys.modules.get("numba.core.config")
    if config is not None:  # numba already imported: its config has read the old value
        config.CACHE_DIR = str(folder)  # type: ignore[attr-defined]
    if base == default_base():
        prune(base, keep=folder)
    return folder


def prune(base: Path, keep: Path, days: float = PRUNE_AFTER_DAYS) -> list[Path]:
    """Remove keyed folders under ``base`` (other than ``keep``) unused for ``days``."""
    cutoff = time.time() - days * 86_400
    removed: list[Path] = []
    try:
        children = list(base.iterdir())
    except OSError:
        return removed
    for child in children:
        try:
            old = child.stat().st_mtime < cutoff
        except OSError:
            continue
        if child != keep and _KEY_NAME.match(child.name) and child.is_dir() and old:
            shutil.rmtree(child, ignore_errors=True)
            removed.append(child)
    return removed


def cache_folder() -> Path:
    """The keyed folder numba caches this package's kernels in."""
    return _configured if _configured is not None else cache_base()


def cache_is_warm(folder: Path | None = None) -> bool:
    """Whether the keyed folder holds compiled kernels (numba index files) already."""
    folder = cache_folder() if folder is None else folder
    return folder.is_dir() and next(folder.rglob("*.nbi"), None) is not None
