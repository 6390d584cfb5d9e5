"""The request guards and the path rules, in process: security headers on every response, the
Host check, the body limit (announced or chunked), symbolic links out of --runs, run-name
reservation, the map-size bound and the folder a stopped simulation leaves."""

from __future__ import annotations

import json
import os
import shutil
import threading
import time

import pytest
from dashboard_helpers import LOCAL, RUN_NAME
from fastapi.testclient import TestClient

from margincall.core.errors import InvalidInputError
from margincall.web.app import create_app, serve

SMALL_RUN = {"preset": "flash-crash", "hours": 0.1, "accounts": 200, "seed": 4}


@pytest.fixture
def outside(tmp_path):
    """A folder beside --runs with a secret file."""
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "secret.json").write_text('{"leak": "SECRET"}')
    return folder


def client_for(runs, max_sims=1, **kw) -> TestClient:
    return TestClient(create_app(runs, max_sims=max_sims), base_url=LOCAL, **kw)


def assert_secure(r) -> None:
    csp = r.headers["content-security-policy"]
    assert "script-src 'self';" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert r.headers["x-content-type-options"] == "nosniff"


def test_every_kind_of_response_carries_the_security_headers(runs_dir):
    with client_for(runs_dir) as c:
        responses = [
            c.get("/"),
            c.get(f"/runs/{RUN_NAME}"),
            c.get("/static/run.js"),
            c.get("/vendor/plotly.min.js"),
            c.get("/api/runs"),
            c.get("/api/runs/nope"),  # 404
            c.get("/api/runs/a..b"),  # 400
            c.post("/api/runs", json={"preset": "nope"}),  # 422
            c.post("/api/runs", content=b"x" * 20_000),  # 413
            c.get("/api/info", headers={"host": "evil.example"}),  # Host refused
        ]
    assert [r.status_code for r in responses] == [200] * 5 + [404, 400, 422, 413, 400]
    for r in responses:
        assert_secure(r)


def test_an_unexpected_error_is_a_json_500_with_the_headers(runs_dir, caplog):
    app = create_app(runs_dir)

    def broken():
        raise ZeroDivisionError("a bug")

    app.add_api_route("/broken", broken)  # a route with a bug, added to the real app
    with TestClient(app, base_url=LOCAL) as c:
        r = c.get("/broken")
    assert r.status_code == 500 and r.json() == {
        "error": "internal error (ZeroDivisionError); see the server log"
    }
    assert_secure(r)
    assert "a bug" in caplog.text and "Traceback" in caplog.text  # the log has it, not the client


@pytest.mark.parametrize(
    "host",
    [
        "evil.example",
        "evil.example:8000",
        "127.0.0.1.evil.example",
        "localhost.evil.example:80",
        "127.0.0.1:80:80",
        "127.0.0.1:",
        "",
    ],
)
def test_a_host_header_of_another_name_is_refused(runs_dir, host):
    with client_for(runs_dir) as c:
        r = c.get("/api/runs", headers={"host": host})
    assert r.status_code == 400 and "Host header" in r.json()["error"], r.text
    assert RUN_NAME not in r.text


def test_the_server_names_are_allowed_with_its_port_only():
    from margincall.web.guard import AllowedHosts

    hosts = AllowedHosts(
        ["127.0.0.1", "localhost", "::1", "dash.example", "proxy.example:8443"], 8000
    )
    for ok in ("127.0.0.1:8000", "LOCALHOST:8000", "localhost", "[::1]:8000", "dash.example:8000"):
        assert hosts.allows(ok), ok
    assert hosts.allows("proxy.example:8443")
    for bad in ("127.0.0.1:8001", "proxy.example", "proxy.example:8000", "::1", "[::1]:x", "x"):
        assert not hosts.allows(bad), bad


def test_a_body_over_the_limit_is_413_announced_or_chunked(runs_dir):
    def chunks(n):
        for _ in range(n):
            yield b"x" * 4096

    with client_for(runs_dir, max_sims=0) as c:
        chunked = c.post(
            "/api/runs", content=chunks(8), headers={"content-type": "application/json"}
        )
        announced = c.post("/api/runs", content=b"{}" + b" " * 17_000)
        small = c.post(
            "/api/runs",
            content=iter([json.dumps(SMALL_RUN).encode()]),
            headers={"content-type": "application/json"},
        )
    assert chunked.request.headers.get("transfer-encoding") == "chunked"
    assert chunked.status_code == 413 and "too large" in chunked.json()["error"]
    assert announced.status_code == 413
    assert small.request.headers.get("transfer-encoding") == "chunked"
    assert small.status_code == 429  # read whole and parsed: refused only for --max-sims 0


def test_symlinks_out_of_the_runs_folder_are_404(runs_dir, outside):
    link = runs_dir / "linked"
    shutil.copytree(runs_dir / RUN_NAME, link)
    (link / "summary.json").unlink()
    os.symlink("/etc/passwd", link / "summary.json")
    sneaky = runs_dir / "sneaky"
    shutil.copytree(runs_dir / RUN_NAME, sneaky)
    for name in ("candles.parquet", "manifest.json"):  # its summary is real, these are not
        shutil.move(sneaky / name, outside / name)
        os.symlink(outside / name, sneaky / name)
    inside = runs_dir / "alias"  # a link that stays inside --runs is followed
    os.symlink(runs_dir / RUN_NAME, inside)
    with client_for(runs_dir) as c:
        names = [r["name"] for r in c.get("/api/runs").json()]
        for path in ("/api/runs/linked", "/api/runs/linked/series", "/runs/linked"):
            r = c.get(path)
            assert r.status_code == 404 and "root:" not in r.text, (path, r.text)
        assert c.get("/api/runs/sneaky").status_code == 200
        for path in ("/api/runs/sneaky/series", "/api/stress/map?run=sneaky"):
            r = c.get(path)
            assert r.status_code == 404 and "not inside" in r.json()["error"], (path, r.text)
        assert c.get("/api/runs/alias/series").status_code == 200
    assert sorted(names) == sorted(["alias", RUN_NAME, "sneaky"])


def test_a_dangling_symlink_as_run_name_is_refused_and_nothing_is_written(runs_dir, outside):
    os.symlink(outside / "ghost", runs_dir / "ghost")
    with client_for(runs_dir) as c:
        r = c.post("/api/runs", json={**SMALL_RUN, "name": "ghost"})
        assert r.status_code == 409 and "exists already" in r.json()["error"], r.text
        time.sleep(1)
    assert sorted(p.name for p in outside.iterdir()) == ["secret.json"]
    assert os.readlink(runs_dir / "ghost") == str(outside / "ghost")


def test_one_of_simultaneous_requests_for_a_name_is_accepted(runs_dir):
    results = []
    barrier = threading.Barrier(4)
    with client_for(runs_dir, max_sims=4) as c:

        def post():
            barrier.wait()
            results.append(c.post("/api/runs", json={**SMALL_RUN, "name": "twin"}).status_code)

        threads = [threading.Thread(target=post) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert sorted(results) == [202, 409, 409, 409]
        assert c.app.state.dash.jobs.running() == 1


def test_a_stopped_simulation_leaves_nothing_in_the_runs_folder(runs_dir):
    with client_for(runs_dir) as c:
        job = c.post("/api/runs", json={**SMALL_RUN, "name": "stopped"}).json()
        assert (runs_dir / "stopped").is_dir()  # reserved while it runs
        pid = c.app.state.dash.jobs.get(job["id"]).process.pid
    # the server shut down: the simulation was stopped
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert sorted(p.name for p in runs_dir.iterdir()) == [RUN_NAME]


def test_a_run_map_over_the_account_bound_is_refused_before_it_is_built(runs_dir):
    big = runs_dir / "big"
    shutil.copytree(runs_dir / RUN_NAME, big)
    manifest = json.loads((big / "manifest.json").read_text())
    manifest["scenario"]["run"]["accounts"] = 500_000
    (big / "manifest.json").write_text(json.dumps(manifest))
    with client_for(runs_dir) as c:
        started = time.monotonic()
        r = c.get("/api/stress/map", params={"run": "big"})
        assert time.monotonic() - started < 2
        assert r.status_code == 422 and "scenario.run.accounts" in r.json()["error"], r.text[:200]
        r = c.get("/api/stress/cascade", params={"preset": "calm", "accounts": 10**6, "shock": 0})
        assert r.status_code == 422 and "accounts" in r.json()["error"]


def test_serve_refuses_a_file_as_runs_folder(tmp_path):
    file = tmp_path / "runs"
    file.write_text("not a folder")
    with pytest.raises(InvalidInputError, match="--runs"):
        serve("127.0.0.1", 8000, file, None, 1)
