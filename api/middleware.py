"""ASGI guards that run before any body is buffered: size limit and URL hygiene."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote_to_bytes

from starlette.exceptions import HTTPException

Scope = dict[str, Any]


def _problem_bytes(status: int, title: str, detail: str, slug: str, **extra: Any) -> bytes:
    body = {
        "type": f"urn:driftgate:problem:{slug}",
        "title": title,
        "status": status,
        "detail": detail,
    }
    body.update(extra)
    return json.dumps(body).encode()


async def _send_problem(send: Any, status: int, payload: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(payload)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


class RequestGuard:
    """Refuse oversized bodies (413) and NUL bytes or invalid UTF-8 in the URL (400).

    A declared Content-Length over the limit is refused before reading anything; a chunked
    body is counted as it streams and refused as soon as it crosses the limit.
    """

    def __init__(self, app: Any, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        url_problem = self._url_problem(scope)
        if url_problem:
            await _send_problem(send, 400, url_problem)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None:
            try:
                too_big = int(declared) > self.max_body_bytes
            except ValueError:
                await _send_problem(
                    send,
                    400,
                    _problem_bytes(
                        400,
                        "Malformed input",
                        "Content-Length is not a number",
                        "malformed-input",
                        field="Content-Length",
                        rule="integer",
                    ),
                )
                return
            if too_big:
                await _send_problem(send, 413, self._too_large())
                return
        await self.app(scope, self._counting(receive), send)

    def _too_large(self) -> bytes:
        return _problem_bytes(
            413,
            "Payload too large",
            f"the request body exceeds {self.max_body_bytes} bytes",
            "payload-too-large",
            field="body",
            rule="max_body_bytes",
            limit=self.max_body_bytes,
        )

    def _counting(self, receive: Any) -> Any:
        seen = 0
        limit = self.max_body_bytes

        async def wrapped() -> Any:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    # An HTTPException passes through FastAPI's body parsing untouched.
                    raise HTTPException(413, f"the request body exceeds {limit} bytes")
            return message

        return wrapped

    @staticmethod
    def _url_problem(scope: Scope) -> bytes | None:
        raw_path: bytes = scope.get("raw_path") or scope.get("path", "").encode(
            "utf-8", "surrogateescape"
        )
        query: bytes = scope.get("query_string", b"")
        for part, name in ((raw_path, "path"), (query, "query")):
            decoded = unquote_to_bytes(part.replace(b"+", b" ") if name == "query" else part)
            if b"\x00" in decoded:
                return _problem_bytes(
                    400,
                    "Malformed input",
                    f"the URL {name} contains a NUL byte",
                    "malformed-input",
                    field=name,
                    rule="no_nul_bytes",
                )
            try:
                decoded.decode("utf-8")
            except UnicodeDecodeError:
                return _problem_bytes(
                    400,
                    "Malformed input",
                    f"the URL {name} is not valid UTF-8",
                    "malformed-input",
                    field=name,
                    rule="utf8",
                )
        return None
