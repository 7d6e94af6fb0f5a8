"""ASGI guards that run before any route: URL hygiene, per-route body limits, JSON depth."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote_to_bytes

from starlette.exceptions import HTTPException

from api.limits import BodyLimits, RouteLimit
from core.safe_parse import NestingTooDeep, check_json_depth

Scope = dict[str, Any]
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


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


class BodyTooLarge(HTTPException):
    """Raised from `receive` when a streamed body crosses its route's limit.

    An `HTTPException` passes through FastAPI's body parsing untouched (anything else becomes
    a 400 there); `api.problems` turns it into a 413 naming the limit and its setting.
    """

    def __init__(self, limit: int, rule: str) -> None:
        super().__init__(413, f"the request body exceeds {limit} bytes")
        self.limit, self.rule = limit, rule


def _too_large(limit: int, rule: str) -> bytes:
    return _problem_bytes(
        413,
        "Payload too large",
        f"the request body exceeds {limit} bytes",
        "payload-too-large",
        field="body",
        rule=rule,
        limit=limit,
    )


def _route_path(scope: Scope) -> str:
    path: str = scope.get("path", "")
    root = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


def _parses_as_json(headers: dict[bytes, bytes]) -> bool:
    """What FastAPI decodes as JSON: no Content-Type, or `application/json` / `+json`."""
    encoding = headers.get(b"content-encoding", b"identity").strip().lower()
    if encoding not in (b"", b"identity"):
        return False  # FastAPI does not decode it, so it never reaches a JSON parser
    media = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
    return not media or media == b"application/json" or media.endswith(b"+json")


class RequestGuard:
    """Refuse bad URLs (400), bodies over their route's limit (413), deep JSON (422).

    A declared Content-Length over the limit is refused before reading anything. A JSON body
    is read here, up to its route's limit (413 as soon as it crosses it), its nesting is
    measured without parsing (422 past `core.safe_parse.MAX_DEPTH`), and it is handed on.
    Any other body (batch upload, YAML, gzip lineage) is counted as it streams.
    """

    def __init__(self, app: Any, limits: BodyLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        url_problem = self._url_problem(scope)
        if url_problem:
            await _send_problem(send, 400, url_problem)
            return
        route = self.limits.for_request(scope["method"], _route_path(scope))
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None:
            try:
                too_big = int(declared) > route.limit
            except ValueError:
                await _send_problem(send, 400, _NOT_A_NUMBER)
                return
            if too_big:
                await _send_problem(send, 413, _too_large(route.limit, route.rule))
                return
        if route.scan_json and scope["method"] in _BODY_METHODS and _parses_as_json(headers):
            await self._scanned(scope, receive, send, route)
            return
        await self.app(scope, _counting(receive, route), send)

    async def _scanned(self, scope: Scope, receive: Any, send: Any, route: RouteLimit) -> None:
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away before sending its body
            body += message.get("body", b"")
            if len(body) > route.limit:
                await _send_problem(send, 413, _too_large(route.limit, route.rule))
                return
            if not message.get("more_body", False):
                break
        try:
            check_json_depth(bytes(body))
        except NestingTooDeep as exc:
            await _send_problem(send, 422, _nesting_problem(exc))
            return
        await self.app(scope, _replay(bytes(body), receive), send)

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


_NOT_A_NUMBER = _problem_bytes(
    400,
    "Malformed input",
    "Content-Length is not a number",
    "malformed-input",
    field="Content-Length",
    rule="integer",
)


def _nesting_problem(exc: NestingTooDeep) -> bytes:
    return _problem_bytes(
        422, exc.title, exc.detail, exc.type_slug, field=exc.field, rule=exc.rule, **exc.extra
    )


def _counting(receive: Any, route: RouteLimit) -> Any:
    seen = 0

    async def wrapped() -> Any:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > route.limit:
                raise BodyTooLarge(route.limit, route.rule)
        return message

    return wrapped


def _replay(body: bytes, receive: Any) -> Any:
    """Hand the app the body read here as one message, then the real channel (disconnects)."""
    pending = True

    async def replayed() -> Any:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed
