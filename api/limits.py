"""Which body limit a request gets: small for JSON and YAML routes, large only for batch upload.

A JSON route parses its whole body in memory, and the parsed objects take several times the
body's size, so one large limit for every route lets any token holder make the server grow
by gigabytes (an 88 MB body posted to `/rank` grew it by 700 MB). Only `POST /batches`
streams its body to disk, so only it gets `max_body_bytes`; labels (up to 100,000 per
request) get `max_labels_body_bytes`, lineage ingest its own `lineage_max_event_bytes`, and
every other route `max_json_body_bytes`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, get_args, get_origin

from starlette.requests import Request

from core.errors import InvalidInput
from core.settings import Settings

UPLOAD_ROUTES = frozenset({("POST", "/batches")})
LABELS_ROUTES = frozenset({("POST", "/labels")})
LINEAGE_ROUTES = frozenset({("POST", "/api/v1/lineage")})


@dataclass(frozen=True)
class RouteLimit:
    """The limit of one request: bytes, the setting that holds it, and whether to scan JSON."""

    limit: int
    rule: str
    scan_json: bool


@dataclass(frozen=True)
class BodyLimits:
    json_bytes: int
    labels_bytes: int
    lineage_bytes: int
    upload_bytes: int

    @classmethod
    def from_settings(cls, settings: Settings) -> BodyLimits:
        return cls(
            json_bytes=settings.max_json_body_bytes,
            labels_bytes=settings.max_labels_body_bytes,
            lineage_bytes=settings.lineage_max_event_bytes,
            upload_bytes=settings.max_body_bytes,
        )

    def for_request(self, method: str, path: str) -> RouteLimit:
        """Upload bodies are streamed to disk; lineage checks depth after gunzip itself."""
        key = (method, path.rstrip("/") or "/")
        if key in UPLOAD_ROUTES:
            return RouteLimit(self.upload_bytes, "max_body_bytes", scan_json=False)
        if key in LINEAGE_ROUTES:
            return RouteLimit(self.lineage_bytes, "lineage_max_event_bytes", scan_json=False)
        if key in LABELS_ROUTES:
            return RouteLimit(self.labels_bytes, "max_labels_body_bytes", scan_json=True)
        return RouteLimit(self.json_bytes, "max_json_body_bytes", scan_json=True)


async def single_valued_query(request: Request) -> None:
    """A scalar query parameter given twice is a 422, not "the last one wins".

    `async` on purpose: it runs on every request, and FastAPI runs a plain `def` dependency in
    its thread pool, a hop to another thread and back on every POST /rank.

    FastAPI keeps the last value of `?actor=a&actor=b`; a client that meant both gets half of
    what it asked for without knowing. List parameters (`list[...]`) may repeat.
    """
    scalars = _scalar_query_names(request.scope.get("route"))
    if not scalars:
        return
    params = request.query_params
    for name in scalars:
        if len(params.getlist(name)) > 1:
            raise InvalidInput(
                f"query parameter {name!r} may be given once",
                field=f"query.{name}",
                rule="single_value",
            )


_SCALARS: dict[int, frozenset[str]] = {}


def _scalar_query_names(route: Any) -> frozenset[str]:
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return frozenset()
    key = id(dependant)
    names = _SCALARS.get(key)
    if names is None:
        fields, stack = [], [dependant]
        while stack:  # the route's own parameters and its dependencies'
            node = stack.pop()
            fields.extend(node.query_params)
            stack.extend(node.dependencies)
        names = _SCALARS[key] = frozenset(
            field.alias
            for field in fields
            if get_origin(field.field_info.annotation) not in _SEQUENCES
            and not _optional_sequence(field.field_info.annotation)
        )
    return names


_SEQUENCES = (list, set, tuple, frozenset)


def _optional_sequence(annotation: Any) -> bool:
    return any(get_origin(arg) in _SEQUENCES for arg in get_args(annotation))
