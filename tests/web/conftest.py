"""Fixtures of the dashboard tests: a real small run folder, a runs folder and a data folder in
the test's temporary folder."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from dashboard_helpers import REAL_NAME, RUN_NAME, SHARED_DATA

from margincall.sim.run_folder import write_run
from margincall.sim.scenario import load_scenario

__all__ = ["REAL_NAME", "RUN_NAME", "SHARED_DATA"]


@pytest.fixture(scope="session")
def built_run(tmp_path_factory) -> Path:
    """A real flash-crash run folder, small: 300 accounts, 1.2 h (the shock is at hour 1)."""
    root = tmp_path_factory.mktemp("built-runs")
    sc = load_scenario("flash-crash").with_overrides(hours=1.2, accounts=300)
    write_run(root / RUN_NAME, sc, 3)
    return root / RUN_NAME


@pytest.fixture
def runs_dir(tmp_path, built_run) -> Path:
    """A fresh runs folder holding a copy of :func:`built_run`."""
    runs = tmp_path / "runs"
    runs.mkdir()
    shutil.copytree(built_run, runs / RUN_NAME)
    return runs


@pytest.fixture
def data_dir(tmp_path) -> Path:
    """A data folder with the real hourly file when ``../shared/data`` has it, and a text file
    that is not data."""
    data = tmp_path / "data"
    data.mkdir()
    if (SHARED_DATA / REAL_NAME).is_file():
        shutil.copy(SHARED_DATA / REAL_NAME, data / REAL_NAME)
    (data / "notes.txt").write_text("not a data file\n")
    return data
