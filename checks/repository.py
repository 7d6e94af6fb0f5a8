"""Every query of the checks domain."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from checks.models import Batch, ColumnProfile, IdempotencyKey, RuleResult


def get_batch(session: Session, batch_id: uuid.UUID) -> Batch | None:
    return session.get(Batch, batch_id)


def list_batches(
    session: Session,
    *,
    contract_id: str | None,
    status: str | None,
    since: datetime | None,
    until: datetime | None = None,
    limit: int,
    offset: int,
) -> list[Batch]:
    stmt = select(Batch)
    if contract_id:
        stmt = stmt.where(Batch.contract_id == contract_id)
    if status:
        stmt = stmt.where(Batch.status == status)
    if since:
        stmt = stmt.where(Batch.received_at >= since)
    if until:
        stmt = stmt.where(Batch.received_at < until)
    stmt = stmt.order_by(Batch.received_at.desc(), Batch.id).limit(limit).offset(offset)
    return list(session.scalars(stmt))


def rule_results(session: Session, batch_id: uuid.UUID) -> list[RuleResult]:
    stmt = select(RuleResult).where(RuleResult.batch_id == batch_id).order_by(RuleResult.position)
    return list(session.scalars(stmt))


def profiles(session: Session, batch_id: uuid.UUID) -> list[ColumnProfile]:
    stmt = (
        select(ColumnProfile)
        .where(ColumnProfile.batch_id == batch_id)
        .order_by(ColumnProfile.field)
    )
    return list(session.scalars(stmt))


def try_lock_idempotency_key(session: Session, principal: str, key: str) -> bool:
    """Transaction-scoped: released on commit, rollback or a crashed connection."""
    got = session.execute(
        text("SELECT pg_try_advisory_xact_lock(hashtextextended(:k, 7))"),
        {"k": f"{principal}\x1f{key}"},
    ).scalar_one()
    return bool(got)


def find_idempotency_key(session: Session, principal: str, key: str) -> IdempotencyKey | None:
    return session.get(IdempotencyKey, (principal, key))


def existing_batch_ids(session: Session, ids: list[uuid.UUID]) -> set[uuid.UUID]:
    """Those of `ids` that name a committed batch."""
    return set(session.scalars(select(Batch.id).where(Batch.id.in_(ids))))


def freshness_facts(
    session: Session, contract_id: str
) -> tuple[datetime | None, datetime | None, int]:
    """Newest batch arrival and newest event time over accepted data, and the batch count."""
    row = session.execute(
        select(
            func.max(Batch.received_at),
            func.max(Batch.newest_event_at).filter(Batch.status != "rejected"),
            func.count(),
        ).where(Batch.contract_id == contract_id)
    ).one()
    return row[0], row[1], int(row[2])
