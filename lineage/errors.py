"""Lineage errors: the event is not OpenLineage, versus the graph has no such node."""

from __future__ import annotations

from core.errors import Forbidden, InvalidInput, MalformedInput, NotFound


class InvalidLineageEvent(InvalidInput):
    """The body is JSON but not a valid OpenLineage event (HTTP 422, names the JSON path)."""

    title = "Invalid OpenLineage event"
    type_slug = "invalid-lineage-event"


class UnreadableLineageEvent(MalformedInput):
    """The body is not JSON at all, or not decodable (HTTP 400)."""

    type_slug = "unreadable-lineage-event"


class LineageNodeNotFound(NotFound):
    type_slug = "lineage-node-not-found"


class InvalidNodeId(InvalidInput):
    type_slug = "invalid-node-id"


class ReservedNamespace(Forbidden):
    """An outside client wrote into driftgate's own namespace: its jobs and runs are facts
    the promotion gates rely on, so only driftgate itself records them (HTTP 403)."""

    title = "Reserved lineage namespace"
    type_slug = "reserved-lineage-namespace"
