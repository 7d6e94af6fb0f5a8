"""API tokens with roles, stored hashed; the first admin token comes from the CLI."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from core import audit
from core.clock import utcnow
from core.errors import Conflict, NotFound, Unauthorized
from core.models import Base


class Role(StrEnum):
    viewer = "viewer"
    producer = "producer"
    reviewer = "reviewer"
    admin = "admin"


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    # SHA-256 suffices: tokens carry 256 bits of randomness, so no slow KDF is needed.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    display_prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(200))
    revoked_at: Mapped[datetime | None]


@dataclass(frozen=True)
class Principal:
    """Who is acting: a token's name and role, or a local operator using the CLI."""

    name: str
    role: Role
    token_id: uuid.UUID | None = None


CLI_OPERATOR = Principal(name="cli", role=Role.admin)


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def create_token(session: Session, actor: Principal, *, name: str, role: Role, prefix: str) -> str:
    """Issue a token and return its secret; only the hash is kept, so it is shown once."""
    if session.scalar(select(ApiToken.id).where(ApiToken.name == name)) is not None:
        raise Conflict(f"a token named {name!r} already exists", field="name", rule="unique")
    raw = prefix + secrets.token_urlsafe(32)
    token = ApiToken(
        name=name,
        role=role.value,
        token_hash=hash_token(raw),
        display_prefix=raw[:10],
        created_at=utcnow(),
        created_by=actor.name,
    )
    session.add(token)
    session.flush()
    audit.record(
        session,
        actor=actor.name,
        action="token.create",
        object_type="token",
        object_id=name,
        after={"name": name, "role": role.value, "prefix": token.display_prefix},
    )
    return raw


def revoke_token(session: Session, actor: Principal, *, name: str) -> ApiToken:
    token = session.scalar(select(ApiToken).where(ApiToken.name == name).with_for_update())
    if token is None:
        raise NotFound(f"no token named {name!r}", field="name")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        audit.record(
            session,
            actor=actor.name,
            action="token.revoke",
            object_type="token",
            object_id=name,
            before={"revoked": False},
            after={"revoked": True},
        )
    return token


def list_tokens(session: Session) -> list[ApiToken]:
    return list(session.scalars(select(ApiToken).order_by(ApiToken.created_at)))


def authenticate(session: Session, raw: str) -> Principal:
    """Resolve a bearer token to its principal; unknown or revoked tokens are 401."""
    token = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(raw)))
    if token is None or token.revoked_at is not None:
        raise Unauthorized("the bearer token is unknown or revoked")
    return Principal(name=token.name, role=Role(token.role), token_id=token.id)
