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
