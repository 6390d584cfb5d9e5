"""The ASGI layers every request passes before a route (outermost first):

- :class:`Headers`: every response carries :data:`SECURITY_HEADERS` (a Content-Security-Policy
  that allows only the server's own scripts, and ``nosniff``); an unexpected error becomes a JSON
  500 with those headers, logged with its traceback on the server and never sent.
- :class:`HostCheck`: the ``Host`` header must name the server (DNS rebinding): 400 otherwise.
- :class:`BodyLimit`: a request body is read whole, up to :data:`MAX_BODY_BYTES`, before the
  route sees it; one over the limit is refused with 413, announced or chunked.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable

log = logging.getLogger("margincall.web")

MAX_BODY_BYTES = 16 * 1024
"""Largest request body accepted; anything bigger is refused with 413."""

EMPTY_STYLE = "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='"
"""The CSP hash of an empty ``<style>`` element: plotly.js creates one and fills it through
the CSSOM (which a policy does not block), so this is all the inline style it needs."""

CSP = (
    "default-src 'self'; script-src 'self'; "
    f"style-src 'self' {EMPTY_STYLE} 'report-sample'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
"""No inline script, no inline style but an empty ``<style>``, nothing from another origin.
plotly.js draws the pages' charts under it without ``eval``; the one thing it is refused is
the stylesheet of map traces (MapLibre) it injects on load, which the pages never draw."""

SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]

LOCAL_NAMES = ("127.0.0.1", "localhost")


async def send_json(send, status: int, message: str) -> None:
    """A complete JSON error response ``{"error": message}``."""
    body = json.dumps({"error": message}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class Headers:
    """Add :data:`SECURITY_HEADERS` to every response; turn an unexpected error into a 500."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def with_headers(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                names = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in SECURITY_HEADERS if k not in names]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        try:
            await self.app(scope, receive, with_headers)
        except Exception as exc:
            log.exception("error in %s %s", scope.get("method"), scope.get("path"))
            if not started:
                await send_json(
                    with_headers, 500, f"internal error ({type(exc).__name__}); see the server log"
                )


class AllowedHosts:
    """The ``Host`` header values the server answers to.

    A bare name (``localhost``) is allowed alone or with the server's ``port``, which is any
    port when ``port`` is None; a name given with a port (``example.org:8443``) is allowed only
    exactly so. Names are compared without case; IPv6 addresses are written in brackets."""

    def __init__(self, names: Iterable[str] = LOCAL_NAMES, port: int | None = None) -> None:
        self.port = port
        self.names = frozenset(_bracket(n.strip().lower()) for n in names if n.strip())

    def allows(self, host: str) -> bool:
        host = host.strip().lower()
        if host in self.names:
            return True
        name, sep, port = host.rpartition(":")
        bad_ipv6 = ":" in name and not name.endswith("]")
        if not sep or bad_ipv6 or not (port.isascii() and port.isdigit()):
            return False
        return name in self.names and (self.port is None or int(port) == self.port)


def _bracket(name: str) -> str:
    """``::1`` as it appears in a Host header: ``[::1]``."""
    if name.count(":") > 1 and not name.startswith("["):
        return f"[{name}]"
    return name


class HostCheck:
    """Refuse (400) a request whose ``Host`` header is not one of ``hosts``."""

    def __init__(self, app, hosts: AllowedHosts) -> None:
        self.app = app
        self.hosts = hosts

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        values = [v for k, v in scope.get("headers", []) if k == b"host"]
        host = values[0].decode("latin-1") if len(values) == 1 else ""
        if self.hosts.allows(host):
            await self.app(scope, receive, send)
            return
        shown = repr(host[:100]) if values else "(none)"
        await send_json(
            send,
            400,
            f"Host header {shown} is not a name of this server: use "
            f"{', '.join(sorted(self.hosts.names))} (serve --allowed-host NAME adds one)",
        )


class BodyLimit:
    """Read the request body whole, at most ``limit`` bytes, then hand it to the app; over the
    limit (by Content-Length or by the bytes received) the answer is 413."""

    def __init__(self, app, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = f"request body too large: at most {self.limit} bytes"
        for key, value in scope.get("headers", []):
            if key != b"content-length":
                continue
            if not value.isdigit():
                await send_json(send, 400, f"Content-Length {value[:40]!r} is not a number")
                return
            if int(value) > self.limit:
                await send_json(send, 413, too_large)
                return
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            more = message.get("more_body", False)
            if size > self.limit:
                await send_json(send, 413, too_large)
                return
        pending = [{"type": "http.request", "body": b"".join(chunks), "more_body": False}]

        async def replay():
            return pending.pop() if pending else await receive()

        await self.app(scope, replay, send)
