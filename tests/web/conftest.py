"""Fixtures of the dashboard tests: a real small run folder, a runs folder and a data folder in
the test's temporary folder, and a browser page on a live server."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from dashboard_helpers import REAL_NAME, RUN_NAME, SHARED_DATA, LiveServer, open_page

from margincall.sim.run_folder import write_run
from margincall.sim.scenario import load_scenario
from margincall.web.app import create_app

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


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium under Playwright; the browser tests skip when either is missing. One
    per module: Playwright's event loop must be gone before other modules call asyncio.run."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"no Chromium at {CHROMIUM}: apt-get install chromium (see .ci/run)")
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def page_on(browser, runs_dir, data_dir):
    """A page (see :func:`open_page`) on a live server over ``runs_dir`` and ``data_dir``."""
    app = create_app(runs_dir, data_dir, max_sims=1)
    with LiveServer(app) as server:
        page = open_page(browser, server)
        yield page
        page.context.close()
        app.state.dash.jobs.shutdown()
