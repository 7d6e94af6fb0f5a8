"""Every query of principals and their API tokens."""

from __future__ import annotations

import uuid

from sqlalchemy import Row, select
from sqlalchemy.orm import Session

# Only functions use the models, so this import cycle with core.auth resolves in either order.
from core import auth


def get_principal(session: Session, name: str) -> auth.PrincipalRecord | None:
    PrincipalRecord = auth.PrincipalRecord
    return session.scalar(select(PrincipalRecord).where(PrincipalRecord.name == name))


def list_principals(session: Session) -> list[auth.PrincipalRecord]:
    PrincipalRecord = auth.PrincipalRecord
    return list(session.scalars(select(PrincipalRecord).order_by(PrincipalRecord.created_at)))


def token_name_taken(session: Session, name: str) -> bool:
    ApiToken = auth.ApiToken
    return session.scalar(select(ApiToken.id).where(ApiToken.name == name)) is not None


def lock_token(session: Session, name: str) -> auth.ApiToken | None:
    """The token named `name`, locked until the transaction ends."""
    ApiToken = auth.ApiToken
    return session.scalar(select(ApiToken).where(ApiToken.name == name).with_for_update())


def tokens_with_owners(session: Session) -> list[tuple[auth.ApiToken, str]]:
    """Every token with the name of its principal, oldest first."""
    ApiToken, PrincipalRecord = auth.ApiToken, auth.PrincipalRecord
    rows = session.execute(
        select(ApiToken, PrincipalRecord.name)
        .join(PrincipalRecord, PrincipalRecord.id == ApiToken.principal_id)
        .order_by(ApiToken.created_at)
    )
    return [(token, owner) for token, owner in rows]


def token_by_hash(session: Session, token_hash: str) -> Row[auth.ApiToken, str] | None:
    """(token, principal name) of the token whose secret hashes to `token_hash`, or None."""
    ApiToken, PrincipalRecord = auth.ApiToken, auth.PrincipalRecord
    return session.execute(
        select(ApiToken, PrincipalRecord.name)
        .join(PrincipalRecord, PrincipalRecord.id == ApiToken.principal_id)
        .where(ApiToken.token_hash == token_hash)
    ).first()


def token_issuers(session: Session, token_id: uuid.UUID) -> Row[str, str] | None:
    """(who issued the token, who created its principal), or None for an unknown token."""
    ApiToken, PrincipalRecord = auth.ApiToken, auth.PrincipalRecord
    return session.execute(
        select(ApiToken.created_by, PrincipalRecord.created_by)
        .join(PrincipalRecord, PrincipalRecord.id == ApiToken.principal_id)
        .where(ApiToken.id == token_id)
    ).first()
