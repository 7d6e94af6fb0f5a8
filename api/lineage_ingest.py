"""`POST /api/v1/lineage` served ahead of FastAPI's routing: the busiest write route.

Ingest does its own parsing (the body is an OpenLineage event, not a pydantic model) and
takes no dependencies but the lineage writer, so FastAPI's routing, dependency solving and
exception middleware only add work: about a quarter of a millisecond of CPU per event, a sixth
of the server's whole share (measured with `bench/bench_lineage.py`). This ASGI middleware
runs `lineage.routes.ingest` directly and maps its errors to the same problem documents as
the app's handlers. It sits inside `RequestGuard`, so the URL and body-size guards still
apply. Every other request, and ingest under a `root_path`, goes through the router, where
the same route is declared (and documented in OpenAPI).
"""

from __future__ import annotations

import inspect
from typing import Any, cast

from starlette.requests import Request

from api import problems
from lineage import routes
from lineage.writer import GroupCommitWriter

PATH = "/api/v1/lineage"


class LineageIngest:
    """Pure ASGI middleware: answers `POST /api/v1/lineage`, passes everything else on."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != PATH:
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            response = await routes.ingest(request, await _writer(request))
        except Exception as exc:
            response = problems.problem_for(request, exc)
        await response(scope, receive, send)


async def _writer(request: Request) -> GroupCommitWriter:
    """The app's writer, or the one a test put in `dependency_overrides`, as the route gets it."""
    override = request.app.dependency_overrides.get(routes.lineage_writer)
    if override is None:
        return await routes.lineage_writer(request)
    writer = override()
    if inspect.isawaitable(writer):
        writer = await writer
    return cast(GroupCommitWriter, writer)
