"""Schemathesis against the dashboard's OpenAPI schema, in process (ASGI transport, no
network): bounded examples per operation, and no response may be a 5xx. The app runs with
``--max-sims 1``: the fuzzer's run requests start at most one (small, bounded) simulation, the
rest are refused with 429 or 409; it is stopped when the test ends."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from margincall.web.app import create_app

settings.register_profile(
    "web-fuzz",
    max_examples=25,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)


# The schema is loaded when the module is imported, so the app exists then: over folders of
# its own, filled with a real run folder by the fixture below before the first example.
_RUNS = Path(tempfile.mkdtemp(prefix="margincall-fuzz-runs-"))
_DATA = Path(tempfile.mkdtemp(prefix="margincall-fuzz-data-"))
(_DATA / "bars.csv").write_text("ts,close\n2026-01-01T00:00:00Z,1\n")  # too short to report
APP = create_app(_RUNS, _DATA, max_sims=1)
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@pytest.fixture(scope="module", autouse=True)
def fuzz_folders(built_run):
    shutil.copytree(built_run, _RUNS / built_run.name)
    yield
    APP.state.dash.jobs.shutdown()
    shutil.rmtree(_RUNS, ignore_errors=True)
    shutil.rmtree(_DATA, ignore_errors=True)


@schema.parametrize()
@settings(settings.get_profile("web-fuzz"))
def test_no_server_errors(case):
    response = case.call()
    assert response.status_code < 500, (case.method, case.formatted_path, response.text[:300])
    if response.status_code >= 400:
        assert "error" in response.json() and "Traceback" not in response.text
    assert APP.state.dash.jobs.running() <= 1
