"""Constants and the live server shared by the dashboard tests (imported by name: the test
folders are not packages)."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

RUN_NAME = "fc-small"
LOCAL = "http://127.0.0.1"
"""The base URL of in-process test clients: the server answers to 127.0.0.1 and localhost."""
SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
REAL_NAME = "btc_1h_liquidations_oi_funding_2025-12_2026-02.csv"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """uvicorn serving the dashboard in a thread on 127.0.0.1."""

    def __init__(self, app) -> None:
        import uvicorn

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.time() + 20
        while not self.server.started:
            if time.time() > deadline:
                raise RuntimeError("the dashboard server did not start in 20 s")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(10)


class RawResponse:
    """What :func:`raw_request` returns: status, headers (lower-case names) and text."""

    def __init__(self, target: str, status: int, headers: dict[str, str], body: bytes) -> None:
        self.target, self.status_code, self.headers = target, status, headers
        self.text = body.decode("utf-8", "replace")

    def json(self):
        import json

        return json.loads(self.text)


def raw_get(app, target: str) -> RawResponse:
    """GET ``target`` exactly as written (see :func:`raw_request`)."""
    return raw_request(app, "GET", target)


def raw_request(
    app,
    method: str,
    target: str,
    headers: list[tuple[bytes, bytes]] | None = None,
    chunks: list[bytes] | None = None,
) -> RawResponse:
    """Send one request to ``app`` over ASGI exactly as written: ``target`` with no client-side
    normalisation of ``..`` or encoded characters (the path decoded once, as uvicorn does),
    ``headers`` as given (default: ``Host: 127.0.0.1``) and the body in ``chunks``, as a
    chunked upload would arrive."""
    import asyncio
    from urllib.parse import unquote

    path, _, query = target.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": unquote(path),
        "raw_path": path.encode("latin-1", "replace"),
        "query_string": query.encode("latin-1", "replace"),
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1")] if headers is None else headers,
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    parts = list(chunks or [b""])
    status, out, response_headers = 0, [], {}

    async def receive():
        if parts:
            body = parts.pop(0)
            return {"type": "http.request", "body": body, "more_body": bool(parts)}
        await asyncio.sleep(3600)  # the app only reads past the body to see a disconnect

    async def send(message):
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
            for k, v in message.get("headers", []):
                response_headers[k.decode("latin-1").lower()] = v.decode("latin-1")
        elif message["type"] == "http.response.body":
            out.append(message.get("body", b""))

    asyncio.run(app(scope, receive, send))
    return RawResponse(target, status, response_headers, b"".join(out))


def open_page(browser, server, **context):
    """A page in a new browser context with every non-localhost request recorded in
    ``page.external`` and aborted, and page errors and Content-Security-Policy violations
    recorded in ``page.errors``; ``page.server`` is ``server``."""
    ctx = browser.new_context(viewport={"width": 1440, "height": 900}, **context)
    page = ctx.new_page()
    page.external = []
    page.errors = []

    def route(r):
        host = urlparse(r.request.url).hostname
        if host in ("127.0.0.1", "localhost"):
            r.continue_()
        else:
            page.external.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.add_init_script(CSP_LISTENER)
    page.on("console", lambda m: _csp_report(page, m))
    page.server = server
    return page


CSP_LISTENER = """document.addEventListener("securitypolicyviolation", (e) =>
  console.log("CSP-VIOLATION " + e.effectiveDirective + " " + e.blockedURI + " " + e.sample));"""
"""An init script that reports each Content-Security-Policy violation on the console."""


def _csp_report(page, message) -> None:
    """Record a CSP violation, except plotly.js's MapLibre stylesheet (its map traces are never
    drawn; see :data:`margincall.web.guard.CSP`)."""
    text = message.text
    if text.startswith("CSP-VIOLATION ") and ".maplibregl" not in text:
        page.errors.append(text)
