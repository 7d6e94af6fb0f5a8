"""Ranker errors: nothing to serve yet, or a request the ranker cannot take."""

from __future__ import annotations

from core.errors import DriftgateError, InvalidInput, NotFound


class NoChampionServed(DriftgateError):
    """No champion is loaded (none set yet, still loading, or it failed verification)."""

    status, title, type_slug = 503, "Service unavailable", "no-champion-served"


class TooManyCandidates(InvalidInput):
    type_slug = "too-many-candidates"


class DuplicateCandidates(InvalidInput):
    type_slug = "duplicate-candidates"


class LabelInFuture(InvalidInput):
    type_slug = "label-in-future"


class PredictionNotFound(NotFound):
    type_slug = "prediction-not-found"
