"""Errors of the incidents domain (mapped to problem+json once, in `api/problems.py`)."""

from __future__ import annotations

from core.errors import Conflict, InvalidInput, NotFound


class IncidentNotFound(NotFound):
    type_slug = "incident-not-found"


class InvalidIncident(InvalidInput):
    title = "Invalid incident"
    type_slug = "invalid-incident"


class IllegalTransition(Conflict):
    """A status move the lifecycle forbids (closed is final; reopening is a new incident)."""

    title = "Illegal incident transition"
    type_slug = "illegal-incident-transition"
