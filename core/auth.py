"""Principals and their API tokens (with roles, stored hashed); the first admin token comes
from the CLI.

A principal is a person or a service account; a token is one credential of a principal.
Everything that counts people (separation of duties, approval quorums) counts principals, so
one person holding several tokens is still one person.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, Session, mapped_column

from core import audit, auth_repository
from core.clock import utcnow
from core.errors import Conflict, InvalidInput, NotFound, Unauthorized
from core.models import Base


class Role(StrEnum):
    viewer = "viewer"
    producer = "producer"
    reviewer = "reviewer"
    admin = "admin"


PRINCIPAL_KINDS = ("person", "service")


class PrincipalRecord(Base):
    """A person or service account; created by an admin (audited), owner of tokens."""

    __tablename__ = "principals"
    __table_args__ = (CheckConstraint("kind IN ('person', 'service')", name="kind_known"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(200))


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    principal_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("principals.id"), index=True)
    role: Mapped[str] = mapped_column(String(20))
    # SHA-256 suffices: tokens carry 256 bits of randomness, so no slow KDF is needed.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    display_prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(200))
    revoked_at: Mapped[datetime | None]


@dataclass(frozen=True)
class Principal:
    """Who is acting: a principal (by name) through one of its tokens, with that token's
    role; or a local operator using the CLI (no token)."""

    name: str
    role: Role
    token_id: uuid.UUID | None = None
    token_name: str | None = None


CLI_OPERATOR = Principal(name="cli", role=Role.admin)


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def create_principal(
    session: Session, actor: Principal, *, name: str, kind: str = "person"
) -> PrincipalRecord:
    """Register a person or service account (admins only, audited)."""
    if kind not in PRINCIPAL_KINDS:
        raise InvalidInput(
            f"kind must be one of {list(PRINCIPAL_KINDS)}", field="kind", rule="enum"
        )
    if get_principal(session, name) is not None:
        raise Conflict(f"a principal named {name!r} already exists", field="name", rule="unique")
    principal = PrincipalRecord(name=name, kind=kind, created_at=utcnow(), created_by=actor.name)
    session.add(principal)
    session.flush()
    audit.record(
        session,
        actor=actor.name,
        action="principal.create",
        object_type="principal",
        object_id=name,
        after={"name": name, "kind": kind, "created_by": actor.name},
    )
    return principal


def get_principal(session: Session, name: str) -> PrincipalRecord | None:
    return auth_repository.get_principal(session, name)


def list_principals(session: Session) -> list[PrincipalRecord]:
    return auth_repository.list_principals(session)


def create_token(
    session: Session,
    actor: Principal,
    *,
    name: str,
    role: Role,
    prefix: str,
    principal: str | None = None,
) -> str:
    """Issue a token of `principal` and return its secret; only the hash is kept, so it is
    shown once. Without `principal`, the token belongs to the principal named like the token,
    which is created (audited) when it does not exist yet: `token create --name ann` keeps
    meaning "a token for ann"."""
    if auth_repository.token_name_taken(session, name):
        raise Conflict(f"a token named {name!r} already exists", field="name", rule="unique")
    if principal is None:
        owner = get_principal(session, name) or create_principal(session, actor, name=name)
    else:
        found = get_principal(session, principal)
        if found is None:
            raise NotFound(
                f"no principal named {principal!r}; create it first (POST /principals)",
                field="principal",
                rule="exists",
            )
        owner = found
    raw = prefix + secrets.token_urlsafe(32)
    token = ApiToken(
        name=name,
        principal_id=owner.id,
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
        after={
            "name": name,
            "role": role.value,
            "prefix": token.display_prefix,
            "principal": owner.name,
        },
    )
    return raw


def revoke_token(session: Session, actor: Principal, *, name: str) -> ApiToken:
    token = auth_repository.lock_token(session, name)
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


def list_tokens(session: Session) -> list[tuple[ApiToken, str]]:
    """Every token with the name of its principal."""
    return auth_repository.tokens_with_owners(session)


def authenticate(session: Session, raw: str) -> Principal:
    """Resolve a bearer token to its principal; unknown or revoked tokens are 401."""
    row = auth_repository.token_by_hash(session, hash_token(raw))
    if row is None or row[0].revoked_at is not None:
        raise Unauthorized("the bearer token is unknown or revoked")
    token, owner = row
    return Principal(name=owner, role=Role(token.role), token_id=token.id, token_name=token.name)


def issuers(session: Session, actor: Principal) -> set[str]:
    """Who handed `actor` its identity: the issuer of its token and the creator of its
    principal. They control that identity, so for separation of duties they count as it."""
    if actor.token_id is None:
        return set()
    row = auth_repository.token_issuers(session, actor.token_id)
    return set(row) if row is not None else set()
