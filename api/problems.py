"""RFC 9457 problem documents for every error, mapped once here."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException

from core.errors import DriftgateError, Refusal
from core.jsonsafe import jsonsafe

PROBLEM_MEDIA_TYPE = "application/problem+json"
log = logging.getLogger("driftgate.api")


def problem_response(
    status: int,
    title: str,
    detail: str,
    *,
    slug: str,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"urn:driftgate:problem:{slug}",
        "title": title,
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    body.update({k: v for k, v in extra.items() if v not in (None, [], {})})
    return JSONResponse(
        jsonsafe(body), status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers
    )


def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DriftgateError)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    return problem_response(
        exc.status,
        exc.title,
        exc.detail,
        slug=exc.type_slug,
        instance=request.url.path,
        headers=headers,
        field=exc.field,
        rule=exc.rule,
        errors=exc.errors,
        **exc.extra,
    )


def _refusal(request: Request, exc: Exception) -> JSONResponse:
    """A refusal whose record the request's transaction committed: the error's problem."""
    assert isinstance(exc, Refusal)
    return _domain_error(request, exc.error)


def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {
            "field": ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body",
            "rule": err.get("type", "invalid"),
            "message": err.get("msg", ""),
        }
        for err in exc.errors()
    ]
    malformed = any(e["rule"] in ("json_invalid", "json_type") for e in errors)
    first = (
        errors[0] if errors else {"field": "body", "rule": "invalid", "message": "invalid request"}
    )
    return problem_response(
        400 if malformed else 422,
        "Malformed input" if malformed else "Invalid input",
        f"{first['field']}: {first['message']}",
        slug="malformed-input" if malformed else "invalid-input",
        instance=request.url.path,
        field=first["field"],
        rule=first["rule"],
        errors=errors,
    )


def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 413:  # api.middleware.BodyTooLarge says which limit
        return problem_response(
            413,
            "Payload too large",
            str(exc.detail),
            slug="payload-too-large",
            instance=request.url.path,
            field="body",
            rule=getattr(exc, "rule", "max_body_bytes"),
            limit=getattr(exc, "limit", None),
        )
    headers = getattr(exc, "headers", None)
    if exc.status_code == 405:
        headers = {**(headers or {}), "Allow": _allowed_methods(request)}
    return problem_response(
        exc.status_code,
        {404: "Not found", 405: "Method not allowed"}.get(exc.status_code, "HTTP error"),
        str(exc.detail),
        slug={404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http-error"),
        instance=request.url.path,
        headers=headers,
    )


def _allowed_methods(request: Request) -> str:
    """Every method some route serves at this path: Starlette's 405 names only the first
    route whose path matched (GET /tokens and POST /tokens are two routes)."""
    from fastapi.routing import iter_route_contexts
    from starlette.routing import Match

    scope = {**request.scope, "method": "\x00"}  # no route serves it: each match is partial
    methods: set[str] = set()
    for route in iter_route_contexts(request.app.routes):
        matches = getattr(route, "matches", None)
        if matches is not None and matches(scope)[0] != Match.NONE:
            methods |= set(getattr(route, "methods", None) or ())
    return ", ".join(sorted(methods))


def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem_response(
        500,
        "Internal error",
        "an unexpected error occurred; it has been logged",
        slug="internal-error",
        instance=request.url.path,
    )


# Errors that say "the database cannot answer now", not "this request is wrong": a refused or
# dropped connection, a pool with no free connection, a statement cut off by statement_timeout.
_UNAVAILABLE = (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError)


def is_database_unavailable(exc: BaseException) -> bool:
    """Whether `exc` means the database is unreachable or too slow (503), not a bug (500)."""
    if isinstance(exc, _UNAVAILABLE):
        return True
    return isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated


# SQLSTATE -> (title, detail, slug) for the retryable database errors that are not an outage.
_RETRYABLE = {
    "57014": (
        "Database timeout",
        "the request took longer than the database statement timeout; nothing was written; "
        "retry later",
        "database-timeout",
    ),
    "40": (
        "Database conflict",
        "the transaction lost a serialization or deadlock conflict and was rolled back; retry",
        "database-conflict",
    ),
}
_OUTAGE = (
    "Database unavailable",
    "the database cannot be reached; nothing was written; retry later",
    "database-unavailable",
)


def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    log.warning("database unavailable on %s %s: %s", request.method, request.url.path, exc)
    retry_after = getattr(request.app.state.settings, "db_retry_after_seconds", 5)
    sqlstate = str(getattr(getattr(exc, "orig", None), "sqlstate", None) or "")
    title, detail, slug = _RETRYABLE.get(sqlstate) or _RETRYABLE.get(sqlstate[:2]) or _OUTAGE
    return problem_response(
        503,
        title,
        detail,
        slug=slug,
        instance=request.url.path,
        headers={"Retry-After": str(retry_after)},
        retry_after=retry_after,
    )


def problem_for(request: Request, exc: Exception) -> JSONResponse:
    """The problem document the app's handlers give `exc`, for code that runs outside them."""
    if isinstance(exc, DriftgateError):
        return _domain_error(request, exc)
    if isinstance(exc, Refusal):
        return _refusal(request, exc)
    if is_database_unavailable(exc):
        return _database_unavailable(request, exc)
    if isinstance(exc, StarletteHTTPException):
        return _http_error(request, exc)
    return _unexpected(request, exc)


def install(app: FastAPI) -> None:
    app.add_exception_handler(DriftgateError, _domain_error)
    app.add_exception_handler(Refusal, _refusal)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    for unavailable in (*_UNAVAILABLE, sa_exc.DBAPIError):
        app.add_exception_handler(unavailable, _dbapi_error)
    app.add_exception_handler(Exception, _unexpected)


def _dbapi_error(request: Request, exc: Exception) -> JSONResponse:
    """503 when the database is unavailable; any other database error is a bug (500)."""
    if is_database_unavailable(exc):
        return _database_unavailable(request, exc)
    return _unexpected(request, exc)
