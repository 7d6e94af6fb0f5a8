"""Request-scoped dependencies for every domain's routes: the transaction, the caller, roles.

A low layer (core knows nothing of the domains), so routes never import `api/`, which sits
on top: app factory, router assembly, problem mapping, middleware.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from core.auth import Principal, Role, authenticate
from core.db import transaction
from core.errors import Forbidden, Unauthorized
from core.settings import Settings

_bearer = HTTPBearer(auto_error=False, description="An API token from `driftgate token create`.")


def _session(request: Request) -> Iterator[Session]:
    """One transaction per request: committed when the route returns or refuses (`Refusal`),
    rolled back on any other error."""
    session: Session = request.app.state.session_factory()
    try:
        with transaction(session):
            yield session
    finally:
        session.close()


# scope="function": commit before the response is sent, so a failed commit is never a 2xx.
DbSession = Annotated[Session, Depends(_session, scope="function")]


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


AppSettings = Annotated[Settings, Depends(get_settings)]


# The `Authorization` header as the OpenAPI document declares it (bearer security scheme).
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def bearer_token(credentials: HTTPAuthorizationCredentials | None) -> str:
    """The token of `Authorization: Bearer <token>`, or 401 naming the header."""
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise Unauthorized(
            "send an API token as `Authorization: Bearer <token>`",
            field="Authorization",
            rule="bearer_token",
        )
    return credentials.credentials.strip()


def header_bearer_token(request: Request) -> str:
    """`bearer_token` for a route that reads its own headers (lineage ingest's fast path)."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return bearer_token(HTTPAuthorizationCredentials(scheme=scheme, credentials=token.strip()))


def _principal(session: DbSession, credentials: Credentials) -> Principal:
    return authenticate(session, bearer_token(credentials))


def require(*roles: Role) -> Callable[..., Principal]:
    """A dependency that admits only the given roles (403 otherwise)."""

    def check(principal: Annotated[Principal, Depends(_principal)]) -> Principal:
        if principal.role not in roles:
            raise Forbidden(
                f"role {principal.role.value!r} may not do this; "
                f"needs one of {[r.value for r in roles]}",
                field="Authorization",
                rule="role",
            )
        return principal

    # Read by the OpenAPI document: such a route can answer 403 (see api/problem_docs.py).
    check.restricted = set(roles) != set(Role)  # type: ignore[attr-defined]
    return check


ANY_ROLE = (Role.viewer, Role.producer, Role.reviewer, Role.admin)
Viewer = Annotated[Principal, Depends(require(*ANY_ROLE))]
Producer = Annotated[Principal, Depends(require(Role.producer, Role.admin))]
Reviewer = Annotated[Principal, Depends(require(Role.reviewer, Role.admin))]
Admin = Annotated[Principal, Depends(require(Role.admin))]
