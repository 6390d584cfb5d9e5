"""Names and paths the dashboard accepts.

A run or data-file name is one path component matching :data:`NAME_RE`. :func:`safe_path` is the
one way the server turns names into a path: it resolves symbolic links and refuses (404) a path
that leaves its root folder, so a link inside ``--runs`` or ``--data`` pointing elsewhere on the
machine is as good as absent. Encoded forms (``%2e%2e%2f``, ``%252e``), backslashes, absolute
paths and ``..`` all fail the pattern (400).
"""

from __future__ import annotations

import re
from pathlib import Path

from fastapi import HTTPException

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$"
NAME_RE = re.compile(NAME_PATTERN)
DATA_SUFFIXES = (".csv", ".parquet")


def check_name(name: str, what: str = "name") -> str:
    """``name`` if it is one safe path component, else a 400 naming the rule."""
    if not NAME_RE.fullmatch(name) or ".." in name:
        raise HTTPException(
            400,
            f"{what} {name[:100]!r} is not valid: use 1-80 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit, and no '..'",
        )
    return name


def safe_path(root: Path, name: str, *files: str, what: str = "name") -> Path:
    """``root/name/files...`` with every symbolic link resolved, or a 404 when that leaves
    ``root`` (itself resolved). ``name`` comes from a request and is checked first
    (:func:`check_name`); ``files`` are the server's own file names."""
    check_name(name, what)
    base = Path(root).resolve()
    path = base.joinpath(name, *files).resolve()
    if base not in path.parents:
        shown = "/".join((name, *files))
        raise HTTPException(404, f"{what} {name!r}: {shown} is not inside the served folder")
    return path
