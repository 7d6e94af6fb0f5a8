"""Errors of the monitors domain."""

from __future__ import annotations

from core.errors import Conflict, InvalidInput, NotFound


class DatasetNotMonitored(NotFound):
    """No contract matches the dataset named in the request."""

    type_slug = "dataset-not-found"


class ReferenceUnavailable(Conflict):
    """The reference cannot be built yet (no data in its window, no champion data)."""

    type_slug = "reference-unavailable"


class SloNotFound(NotFound):
    type_slug = "slo-not-found"


class SloExists(Conflict):
    type_slug = "slo-exists"


class InvalidSlo(InvalidInput):
    title = "Invalid SLO"
    type_slug = "invalid-slo"


class AlertNotFound(NotFound):
    type_slug = "alert-not-found"


class SinkExists(Conflict):
    type_slug = "sink-exists"


class SinkNotFound(NotFound):
    type_slug = "sink-not-found"


class NotificationNotFound(NotFound):
    type_slug = "notification-not-found"


class InvalidWindow(InvalidInput):
    title = "Invalid window"
    type_slug = "invalid-window"
