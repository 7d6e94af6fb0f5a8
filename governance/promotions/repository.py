"""Every query of promotion governance."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session

from governance.promotions.models import (
    ACTIVE_STATES,
    PromotionApproval,
    PromotionPolicy,
    PromotionRequest,
)

# Serializes publishing, so two admins cannot both take the next version number.
POLICY_LOCK = 0x706F6C6963790001


def lock_policy_publishing(session: Session) -> None:
    """Hold the policy-publishing lock until the transaction ends."""
    session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": POLICY_LOCK})


def latest_policy(session: Session) -> PromotionPolicy | None:
    return session.scalar(select(PromotionPolicy).order_by(PromotionPolicy.version.desc()).limit(1))


def policy_version(session: Session, version: int) -> PromotionPolicy | None:
    return session.get(PromotionPolicy, version)


def list_policies(session: Session) -> list[PromotionPolicy]:
    return list(session.scalars(select(PromotionPolicy).order_by(PromotionPolicy.version)))


def get_request(
    session: Session, request_id: uuid.UUID, *, for_update: bool = False
) -> PromotionRequest | None:
    stmt = select(PromotionRequest).where(PromotionRequest.id == request_id)
    return session.scalar(stmt.with_for_update() if for_update else stmt)


def active_request(session: Session, name: str, version: int) -> PromotionRequest | None:
    return session.scalar(
        select(PromotionRequest).where(
            PromotionRequest.model_name == name,
            PromotionRequest.version == version,
            PromotionRequest.state.in_(ACTIVE_STATES),
        )
    )


def list_requests(
    session: Session, *, name: str | None, state: str | None, limit: int, offset: int
) -> list[PromotionRequest]:
    stmt = select(PromotionRequest)
    if name is not None:
        stmt = stmt.where(PromotionRequest.model_name == name)
    if state is not None:
        stmt = stmt.where(PromotionRequest.state == state)
    stmt = stmt.order_by(PromotionRequest.requested_at.desc(), PromotionRequest.id)
    return list(session.scalars(stmt.limit(limit).offset(offset)))


def requests_of_version(session: Session, name: str, version: int) -> list[PromotionRequest]:
    return list(
        session.scalars(
            select(PromotionRequest)
            .where(PromotionRequest.model_name == name, PromotionRequest.version == version)
            .order_by(PromotionRequest.requested_at)
        )
    )


def request_ids_of_model(session: Session, name: str) -> list[uuid.UUID]:
    return list(
        session.scalars(select(PromotionRequest.id).where(PromotionRequest.model_name == name))
    )


def approvals(session: Session, request_id: uuid.UUID) -> list[PromotionApproval]:
    return list(
        session.scalars(
            select(PromotionApproval)
            .where(PromotionApproval.request_id == request_id)
            .order_by(PromotionApproval.id)
        )
    )


def live_decision(
    session: Session, request_id: uuid.UUID, reviewer: str
) -> PromotionApproval | None:
    return session.scalar(
        select(PromotionApproval).where(
            PromotionApproval.request_id == request_id,
            PromotionApproval.reviewer == reviewer,
            PromotionApproval.voided_at.is_(None),
        )
    )


def count_live_approvals(session: Session, request_id: uuid.UUID) -> int:
    return (
        session.scalar(
            select(func.count()).where(
                PromotionApproval.request_id == request_id,
                PromotionApproval.decision == "approve",
                PromotionApproval.voided_at.is_(None),
            )
        )
        or 0
    )


def void_approvals(
    session: Session, request_id: uuid.UUID, *, at: datetime, reason: str
) -> list[str]:
    """Void every live decision on a request; returns the reviewers whose decisions lapsed."""
    rows = session.execute(
        update(PromotionApproval)
        .where(PromotionApproval.request_id == request_id, PromotionApproval.voided_at.is_(None))
        .values(voided_at=at, void_reason=reason[:1000])
        .returning(PromotionApproval.reviewer)
    ).all()
    return [r[0] for r in rows]


def due_for_expiry(session: Session, now: datetime, limit: int = 100) -> list[PromotionRequest]:
    return list(
        session.scalars(
            select(PromotionRequest)
            .where(PromotionRequest.state.in_(ACTIVE_STATES), PromotionRequest.expires_at <= now)
            .order_by(PromotionRequest.expires_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )


def baking(session: Session, limit: int = 100) -> list[PromotionRequest]:
    return list(
        session.scalars(
            select(PromotionRequest)
            .where(PromotionRequest.bake_state == "baking")
            .order_by(PromotionRequest.promoted_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )


def latest_promotion_of(session: Session, name: str, version: int) -> PromotionRequest | None:
    return session.scalar(
        select(PromotionRequest)
        .where(
            PromotionRequest.model_name == name,
            PromotionRequest.version == version,
            PromotionRequest.state == "promoted",
        )
        .order_by(PromotionRequest.promoted_at.desc())
        .limit(1)
    )
