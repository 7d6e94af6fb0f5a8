"""Typed domain errors; `api` maps each one once to an RFC 9457 problem."""

from __future__ import annotations

from typing import Any


class DriftgateError(Exception):
    """Base of every error a service may raise; carries what the problem document needs."""

    status: int = 400
    title: str = "Bad request"
    type_slug: str = "bad-request"

    def __init__(
        self,
        detail: str,
        *,
        field: str | None = None,
        rule: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field
        self.rule = rule
        self.errors = errors or []
        self.extra = extra or {}


class NotFound(DriftgateError):
    status, title, type_slug = 404, "Not found", "not-found"


class Conflict(DriftgateError):
    status, title, type_slug = 409, "Conflict", "conflict"


class InvalidInput(DriftgateError):
    """The request is well-formed but violates a rule (HTTP 422)."""

    status, title, type_slug = 422, "Invalid input", "invalid-input"


class MalformedInput(DriftgateError):
    """The request body cannot be parsed at all (HTTP 400)."""

    status, title, type_slug = 400, "Malformed input", "malformed-input"


class Unauthorized(DriftgateError):
    status, title, type_slug = 401, "Unauthorized", "unauthorized"


class Forbidden(DriftgateError):
    status, title, type_slug = 403, "Forbidden", "forbidden"


class PayloadTooLarge(DriftgateError):
    status, title, type_slug = 413, "Payload too large", "payload-too-large"


class UnsupportedMediaType(DriftgateError):
    status, title, type_slug = 415, "Unsupported media type", "unsupported-media-type"


class Refusal(Exception):
    """A refused step whose record must stand: the transaction's owner commits what the step
    wrote so far (an audit event, a state change), then answers with `error`'s problem.

    An error raised on its own rolls everything back; a refused approval or an expired request
    must still leave its trace, so services raise this wrapper instead.
    """

    def __init__(self, error: DriftgateError) -> None:
        super().__init__(error.detail)
        self.error = error
