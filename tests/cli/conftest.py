"""Fixtures of the command-line tests (the helpers are in cli_helpers.py)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def readonly_dir(tmp_path_factory) -> Path:
    """A folder in which nothing can be created, even by root: a 0555 folder for an ordinary
    user; for root (who ignores modes) a kernel file system that refuses new entries."""
    mine = tmp_path_factory.mktemp("readonly")
    os.chmod(mine, 0o555)
    for candidate in (mine, Path("/sys"), Path("/proc")):
        try:
            os.rmdir(tempfile.mkdtemp(dir=candidate))
        except OSError:
            return candidate
    pytest.skip("no folder here refuses writes (not even /sys or /proc)")
