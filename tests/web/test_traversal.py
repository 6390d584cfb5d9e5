"""Path traversal attempts on every route that takes a name are refused (4xx, no file read)."""

from __future__ import annotations

import os

import pytest
from dashboard_helpers import LOCAL, RUN_NAME, raw_get
from fastapi.testclient import TestClient

from margincall.web.app import create_app

# Sent as they are in the URL, so the encoded forms reach the server encoded.
ATTACKS = [
    "..",
    "...",
    "a..b",
    "..%2f..%2fetc%2fpasswd",
    "%2e%2e",
    "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "%252e%252e%252fetc%252fpasswd",
    "%252e%252e",
    "..%5c..%5cwindows",
    "..\\..\\etc",
    "%2fetc%2fpasswd",
    "%2Fetc%2Fpasswd",
    ".hidden",
    "-rf",
    "x" * 81,
    "%00",
    "fc-small%00.txt",
]

PATH_ROUTES = [
    "/api/runs/{}",
    "/api/runs/{}/series",
    "/runs/{}",
    "/api/monitor/{}",
    "/api/jobs/{}",
]
QUERY_ROUTES = [
    "/api/stress/map?run={}",
    "/api/stress/cascade?shock=-0.05&run={}",
]


@pytest.fixture
def client(runs_dir, data_dir, tmp_path):
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "summary.json").write_text('{"leak": "SECRET"}')
    (secret / "passwd.csv").write_text("SECRET\n")
    os.symlink(secret, runs_dir / "escape")  # a symlink out of --runs
    os.symlink(secret / "passwd.csv", data_dir / "escape.csv")  # and out of --data
    app = create_app(runs_dir, data_dir, max_sims=1)
    with TestClient(app, base_url=LOCAL) as c:
        c.raw = lambda target: raw_get(app, target)
        yield c


def _refused(r) -> None:
    assert 400 <= r.status_code < 500, (getattr(r, "target", None), r.status_code, r.text[:200])
    assert "SECRET" not in r.text and "root:" not in r.text and "Traceback" not in r.text
    assert r.json()["error"]


@pytest.mark.parametrize("route", PATH_ROUTES + QUERY_ROUTES)
@pytest.mark.parametrize("attack", ATTACKS)
def test_traversal_is_refused(client, route, attack):
    _refused(client.raw(route.format(attack)))


@pytest.mark.parametrize("route", PATH_ROUTES + QUERY_ROUTES)
def test_absolute_and_symlinked_names_are_refused(client, route):
    if "{}" in route and "?" in route:
        _refused(client.raw(route.format("/etc/passwd")))
    name = "escape.csv" if "monitor" in route else "escape"
    _refused(client.raw(route.format(name)))


@pytest.mark.parametrize("name", ["..", "../x", "/etc/x", "..\\x", "%2e%2e", "a/b", "escape"])
def test_new_run_names_are_refused(client, name, runs_dir):
    r = client.post(
        "/api/runs", json={"preset": "calm", "hours": 0.1, "accounts": 100, "name": name}
    )
    _refused(r)
    assert sorted(p.name for p in runs_dir.iterdir()) == sorted([RUN_NAME, "escape"])


def test_the_real_run_is_still_served(client):
    assert client.get(f"/api/runs/{RUN_NAME}").status_code == 200
