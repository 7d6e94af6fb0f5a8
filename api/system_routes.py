"""Health, readiness, API tokens and the audit trail."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import JSONResponse
from pydantic import Field

from core import audit, audit_trail
from core.auth import (
    Role,
    create_principal,
    create_token,
    list_principals,
    list_tokens,
    revoke_token,
)
from core.bounds import INT64_MAX
from core.db import check_schema
from core.http import Admin, DbSession, Viewer
from core.schemas import RequestModel, ResponseModel

router = APIRouter()


@router.get("/health", tags=["system"])
async def health() -> dict[str, str]:
    """Liveness: the process answers."""
    # async: answered on the event loop, so it stays up when every worker thread is busy.
    return {"status": "ok"}


@router.get("/ready", tags=["system"])
def ready(request: Request) -> JSONResponse:
    """Readiness: the database answers and the schema is migrated."""
    try:
        check_schema(request.app.state.engine)
    except Exception as exc:
        retry_after = str(request.app.state.settings.db_retry_after_seconds)
        return JSONResponse(
            {"status": "unavailable", "detail": type(exc).__name__},
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": retry_after},
        )
    return JSONResponse({"status": "ready"})


NAME_PATTERN = r"^[A-Za-z0-9_.@-]{1,200}$"


class PrincipalCreate(RequestModel):
    name: str = Field(pattern=NAME_PATTERN, description="Unique name of the person or service.")
    kind: Literal["person", "service"] = Field(
        default="person", description="`person` or `service` (an account a program uses)."
    )


class PrincipalRead(ResponseModel):
    name: str = Field(description="Principal name (the actor in the audit trail).")
    kind: str = Field(description="person or service.")
    created_at: datetime = Field(description="Created at.")
    created_by: str = Field(description="The admin who created it.")


class TokenCreate(RequestModel):
    name: str = Field(pattern=NAME_PATTERN, description="Unique token name.")
    role: Role = Field(description="viewer, producer, reviewer or admin.")
    principal: str | None = Field(
        default=None,
        pattern=NAME_PATTERN,
        description="The principal (person or service) the token belongs to; it must exist. "
        "Omitted: the principal named like the token, created if it does not exist.",
    )


class TokenCreated(ResponseModel):
    name: str = Field(description="Token name.")
    principal: str = Field(description="The principal it belongs to.")
    role: Role = Field(description="Role.")
    token: str = Field(description="The secret; shown only now.")


class TokenRead(ResponseModel):
    name: str = Field(description="Token name.")
    principal: str = Field(description="The principal it belongs to.")
    role: str = Field(description="Role.")
    display_prefix: str = Field(description="First characters, to recognise it.")
    created_at: datetime = Field(description="Issued at.")
    created_by: str = Field(description="Who issued it.")
    revoked_at: datetime | None = Field(default=None, description="Revoked at, if revoked.")


class MeRead(ResponseModel):
    name: str = Field(description="The principal the token belongs to (the audit trail's actor).")
    role: Role = Field(description="The token's role: viewer, producer, reviewer or admin.")
    token_name: str | None = Field(default=None, description="Name of the token used.")


@router.get("/me", response_model=MeRead, tags=["tokens"])
def me(principal: Viewer) -> MeRead:
    """Who the bearer token belongs to and its role, so a client can show what it may do."""
    return MeRead(name=principal.name, role=principal.role, token_name=principal.token_name)


@router.post(
    "/tokens", status_code=status.HTTP_201_CREATED, response_model=TokenCreated, tags=["tokens"]
)
def issue_token(
    body: TokenCreate, request: Request, session: DbSession, actor: Admin
) -> TokenCreated:
    """Issue an API token; the secret is returned once and stored only as a hash."""
    raw = create_token(
        session,
        actor,
        name=body.name,
        role=body.role,
        prefix=request.app.state.settings.token_prefix,
        principal=body.principal,
    )
    owner = body.principal or body.name
    return TokenCreated(name=body.name, principal=owner, role=body.role, token=raw)


def _token_read(token: Any, owner: str) -> TokenRead:
    return TokenRead.model_validate({**_columns(token), "principal": owner})


def _columns(row: Any) -> dict[str, Any]:
    return {c.name: getattr(row, c.name) for c in row.__table__.columns}


@router.get("/tokens", response_model=list[TokenRead], tags=["tokens"])
def tokens(session: DbSession, _: Admin) -> list[TokenRead]:
    """List tokens (never their secrets) with the principal each belongs to."""
    return [_token_read(t, owner) for t, owner in list_tokens(session)]


@router.delete("/tokens/{name}", response_model=TokenRead, tags=["tokens"])
def revoke(name: str, session: DbSession, actor: Admin) -> TokenRead:
    """Revoke a token; it stops working at once."""
    token = revoke_token(session, actor, name=name)
    owner = next(o for t, o in list_tokens(session) if t.id == token.id)
    return _token_read(token, owner)


@router.post(
    "/principals",
    status_code=status.HTTP_201_CREATED,
    response_model=PrincipalRead,
    tags=["tokens"],
)
def add_principal(body: PrincipalCreate, session: DbSession, actor: Admin) -> PrincipalRead:
    """Register a person or service account; tokens are then issued to it (audited)."""
    return PrincipalRead.model_validate(
        create_principal(session, actor, name=body.name, kind=body.kind)
    )


@router.get("/principals", response_model=list[PrincipalRead], tags=["tokens"])
def principals(session: DbSession, _: Admin) -> list[PrincipalRead]:
    """List principals (people and service accounts)."""
    return [PrincipalRead.model_validate(p) for p in list_principals(session)]


class AuditEventRead(ResponseModel):
    seq: int = Field(description="Position in the chain.")
    occurred_at: datetime = Field(description="When it happened.")
    actor: str = Field(description="Token name (or `cli`).")
    action: str = Field(description="What was done, e.g. `contract.register`.")
    object_type: str = Field(description="Kind of object.")
    object_id: str = Field(description="Object id.")
    payload: dict[str, Any] = Field(description="Before/after and details.")
    prev_hash: str = Field(description="Hash of the previous event.")
    hash: str = Field(description="SHA-256 over prev_hash and this event.")


class FindingRead(ResponseModel):
    kind: str = Field(
        description="`forged` (a checkpoint's signature fails), `truncated` (the chain ends "
        "before a checkpoint), `rewritten` (the chain's hash differs from a signed one) or "
        "`chain` (an event's hash, link or sequence number fails)."
    )
    seq: int | None = Field(description="First sequence number this leaves unvouched for.")
    reason: str = Field(description="What was found.")


class ChainVerdictRead(ResponseModel):
    intact: bool = Field(
        description="Whether the chain recomputes and agrees with every checkpoint."
    )
    mode: str = Field(
        description="`incremental` (recomputed after the newest checkpoint the chain agrees "
        "with) or `full` (from the first event)."
    )
    events_checked: int = Field(description="Events whose hashes were recomputed.")
    from_seq: int = Field(description="Recomputed after this sequence number (0: from the start).")
    head_seq: int = Field(description="Sequence number of the newest event.")
    first_broken_seq: int | None = Field(
        default=None, description="First sequence number that fails."
    )
    reason: str | None = Field(default=None, description="Why it fails.")
    head_hash: str | None = Field(default=None, description="Hash of the last event when intact.")
    checkpoints_trusted: int = Field(description="Checkpoints whose signatures verify.")
    latest_checkpoint_seq: int | None = Field(
        default=None, description="Sequence number of the newest trusted checkpoint."
    )
    findings: list[FindingRead] = Field(description="Everything found, first sequence first.")


class CheckpointWritten(ResponseModel):
    written: bool = Field(description="Whether a new checkpoint file was written.")
    seq: int = Field(description="Sequence number of the chain's head.")
    file: str | None = Field(default=None, description="The checkpoint file, if written.")
    detail: str = Field(description="`written`, `head unchanged` or `another writer is busy`.")


@router.get("/audit", response_model=list[AuditEventRead], tags=["audit"])
def list_audit(
    session: DbSession,
    _: Viewer,
    object_: Annotated[
        str | None,
        Query(alias="object", max_length=400, description="`type:id`, or an id or type alone."),
    ] = None,
    action: Annotated[str | None, Query(max_length=100)] = None,
    actor: Annotated[str | None, Query(max_length=200)] = None,
    after_seq: Annotated[
        int, Query(ge=0, le=INT64_MAX, description="Only events after this sequence number.")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[AuditEventRead]:
    """List audit events in chain order, filtered by object, action or actor."""
    rows = audit.list_events(
        session, after_seq=after_seq, object_ref=object_, action=action, actor=actor, limit=limit
    )
    return [AuditEventRead.model_validate(r) for r in rows]


@router.get("/audit/verify", response_model=ChainVerdictRead, tags=["audit"])
def verify_audit(
    request: Request,
    session: DbSession,
    _: Viewer,
    full: Annotated[
        bool, Query(description="Recompute from the first event, not from the last checkpoint.")
    ] = False,
) -> ChainVerdictRead:
    """Recompute the hash chain, compare it with the signed checkpoints, name the first bad seq."""
    verdict = audit_trail.verify_trail(session, request.app.state.settings, full=full)
    return ChainVerdictRead.model_validate(verdict)


@router.post("/audit/checkpoints", response_model=CheckpointWritten, tags=["audit"])
def checkpoint_audit(request: Request, session: DbSession, _: Admin) -> CheckpointWritten:
    """Verify the chain and write a signed checkpoint of its head now (409 if it is broken)."""
    outcome = audit_trail.write_checkpoint(session, request.app.state.settings)
    return CheckpointWritten(
        written=outcome.written,
        seq=outcome.seq,
        file=outcome.path.name if outcome.path else None,
        detail=outcome.detail,
    )
