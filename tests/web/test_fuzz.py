"""Schemathesis against the dashboard's OpenAPI schema, in process (ASGI transport, no
network): bounded examples per operation, and no response may be a 5xx. The app runs with
``--max-sims 1``: the fuzzer's run requests start at most one (small, bounded) simulation, the
rest are refused with 429 or 409; it is stopped when the test ends.

Then hypothesis over what the schema does not describe, sent as raw ASGI requests: names in
paths and queries (against a runs folder holding symbolic links out of it), and headers (Host,
Content-Length, chunked bodies). Every response carries the security headers."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from urllib.parse import quote

import pytest
import schemathesis
from dashboard_helpers import RUN_NAME, raw_request
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from margincall.web.app import create_app
from margincall.web.guard import LOCAL_NAMES, MAX_BODY_BYTES, AllowedHosts

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
_OUTSIDE = Path(tempfile.mkdtemp(prefix="margincall-fuzz-outside-"))
(_DATA / "bars.csv").write_text("ts,close\n2026-01-01T00:00:00Z,1\n")  # too short to report
HOSTS = (*LOCAL_NAMES, "testserver")  # schemathesis's ASGI client calls the server testserver
APP = create_app(_RUNS, _DATA, max_sims=1, hosts=AllowedHosts(HOSTS))
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)

LINKS = ("leak", "dangle", "linked", "alias")
"""Entries of the fuzz runs folder that are symbolic links (see :func:`fuzz_folders`)."""
NAMES = st.one_of(
    st.sampled_from([*LINKS, RUN_NAME, "..", ".", "", "%2e%2e", "/etc/passwd", "a/../b"]),
    st.text(max_size=90),
    st.lists(
        st.sampled_from(["..", ".", "/", "\\", "%2f", "%00", "leak", "etc", "passwd"]), max_size=6
    ).map("".join),
)


@pytest.fixture(scope="module", autouse=True)
def fuzz_folders(built_run):
    """The real run, and links: ``leak`` to a folder outside with a summary, ``dangle`` to a
    missing path outside, ``linked`` a run whose summary links to /etc/passwd, ``alias`` to the
    real run (inside, so served)."""
    shutil.copytree(built_run, _RUNS / built_run.name)
    (_OUTSIDE / "secret").mkdir()
    (_OUTSIDE / "secret" / "summary.json").write_text('{"leak": "SECRET"}')
    os.symlink(_OUTSIDE / "secret", _RUNS / "leak")
    os.symlink(_OUTSIDE / "missing", _RUNS / "dangle")
    (_RUNS / "linked").mkdir()
    os.symlink("/etc/passwd", _RUNS / "linked" / "summary.json")
    os.symlink(_RUNS / built_run.name, _RUNS / "alias")
    os.symlink(_OUTSIDE / "secret" / "summary.json", _DATA / "leak.csv")
    yield
    APP.state.dash.jobs.shutdown()
    assert sorted(p.name for p in _OUTSIDE.iterdir()) == ["secret"]  # nothing written outside
    for folder in (_RUNS, _DATA, _OUTSIDE):
        shutil.rmtree(folder, ignore_errors=True)


def assert_secure(r) -> None:
    assert r.status_code < 500, (r.target, r.status_code, r.text[:300])
    assert "script-src 'self'" in r.headers["content-security-policy"], r.target
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "SECRET" not in r.text and "root:" not in r.text and "Traceback" not in r.text


@schema.parametrize()
@settings(settings.get_profile("web-fuzz"))
def test_no_server_errors(case):
    response = case.call()
    assert response.status_code < 500, (case.method, case.formatted_path, response.text[:300])
    if response.status_code >= 400:
        assert "error" in response.json() and "Traceback" not in response.text
    headers = {k.lower(): v for k, v in response.headers.items()}  # values: lists of strings
    assert "script-src 'self'" in headers["content-security-policy"][0]
    assert headers["x-content-type-options"] == ["nosniff"]
    assert APP.state.dash.jobs.running() <= 1


PATHS = ["/api/runs/{}", "/api/runs/{}/series", "/runs/{}", "/api/monitor/{}"]
QUERIES = ["/api/stress/map?run={}", "/api/stress/cascade?shock=-0.05&run={}"]


@settings(settings.get_profile("web-fuzz"), max_examples=60)
@given(name=NAMES, route=st.sampled_from(PATHS + QUERIES), encode=st.booleans())
def test_names_never_leave_the_served_folders(name, route, encode):
    target = route.format(quote(name, safe="") if encode else quote(name, safe="/%\\"))
    r = raw_request(APP, "GET", target)
    assert_secure(r)
    if r.status_code == 200 and "monitor" not in route:
        assert name in (RUN_NAME, "alias"), (target, r.text[:200])


@settings(settings.get_profile("web-fuzz"), max_examples=20)
@given(name=st.sampled_from([*LINKS, RUN_NAME]))
def test_links_and_existing_names_are_never_written(name):
    body = f'{{"preset": "calm", "hours": 0.1, "accounts": 100, "name": "{name}"}}'.encode()
    headers = [(b"host", b"127.0.0.1"), (b"content-type", b"application/json")]
    r = raw_request(APP, "POST", "/api/runs", headers, [body])
    assert_secure(r)
    assert r.status_code == 409, r.text


HOST_TEXT = st.text(st.characters(min_codepoint=32, max_codepoint=255), max_size=40)
HOST = st.one_of(
    HOST_TEXT,
    st.tuples(st.sampled_from([*HOSTS, "evil.example", "127.0.0.1.evil", ""]), HOST_TEXT).map(
        lambda t: f"{t[0]}:{t[1]}"
    ),
    st.sampled_from([*HOSTS, "LOCALHOST:8000", "127.0.0.1:65535", "evil.example"]),
)


def host_allowed(host: str) -> bool:
    """The rule of :class:`AllowedHosts` with any port, written out."""
    name, sep, port = host.strip().lower().partition(":")
    return name in HOSTS and (not sep or (port.isascii() and port.isdigit()))


@settings(settings.get_profile("web-fuzz"), max_examples=80)
@given(
    host=st.one_of(st.none(), HOST),
    chunks=st.lists(st.binary(max_size=7000), max_size=5),
    announce=st.sampled_from(["none", "true", "wrong", "junk"]),
    method=st.sampled_from(["GET", "POST"]),
)
def test_headers_are_checked_before_anything_else(host, chunks, announce, method):
    size = sum(len(c) for c in chunks)
    headers = [] if host is None else [(b"host", host.encode("latin-1"))]
    length = {"true": str(size), "wrong": str(size + 1), "junk": "12x"}.get(announce)
    if length is not None:
        headers.append((b"content-length", length.encode()))
    headers.append((b"content-type", b"application/json"))
    r = raw_request(APP, method, "/api/runs" if method == "POST" else "/api/info", headers, chunks)
    assert_secure(r)
    if host is None or not host_allowed(host):
        assert r.status_code == 400 and "Host header" in r.json()["error"], (host, r.text)
    elif announce == "junk":
        assert r.status_code == 400 and "Content-Length" in r.json()["error"]
    elif size > MAX_BODY_BYTES or (length and int(length) > MAX_BODY_BYTES):
        assert r.status_code == 413 and "too large" in r.json()["error"], (size, r.text)
    elif method == "POST":
        assert r.status_code in (400, 409, 422, 429), r.text  # never started by junk
