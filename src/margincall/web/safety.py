"""Names, paths and request sizes the dashboard accepts.

A run or data-file name is one path component matching :data:`NAME_RE`; it is resolved under
its root folder and refused unless the resolved path stays inside that root. Encoded forms
(``%2e%2e%2f``, ``%252e``), backslashes, absolute paths and ``..`` all fail the pattern.
"""

from __future__ import annotations

import re
from pathlib import Path

from fastapi import HTTPException

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$"
NAME_RE = re.compile(NAME_PATTERN)
MAX_BODY_BYTES = 16 * 1024
"""Largest request body accepted; anything bigger is refused with 413."""
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


def under(root: Path, name: str, what: str = "name") -> Path:
    """The path ``root/name`` after :func:`check_name`, refused unless it resolves inside
    ``root`` (a symlink pointing out is refused too)."""
    check_name(name, what)
    base = root.resolve()
    path = (base / name).resolve()
    if path.parent != base:
        raise HTTPException(400, f"{what} {name!r} points outside its folder")
    return path


class BodyLimit:
    """ASGI middleware: refuse request bodies over ``limit`` bytes with 413, whether announced
    by Content-Length or streamed."""

    def __init__(self, app, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for key, value in scope.get("headers", []):
            if key == b"content-length":
                try:
                    size = int(value)
                except ValueError:
                    size = self.limit + 1
                if size > self.limit:
                    await _too_large(send, self.limit)
                    return
        seen = 0
        responded = False

        async def limited_receive():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _BodyTooLarge
            return message

        async def tracking_send(message):
            nonlocal responded
            if message["type"] == "http.response.start":
                responded = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _BodyTooLarge:
            if not responded:
                await _too_large(send, self.limit)


class _BodyTooLarge(Exception):
    pass


async def _too_large(send, limit: int) -> None:
    body = f'{{"error": "request body too large: at most {limit} bytes"}}'.encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", b"%d" % len(body)),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
