"""Every query of SLOs and their alerts."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from monitors.slos.models import Alert, AlertEvent, Slo


def list_slos(session: Session, *, enabled_only: bool = False) -> list[Slo]:
    stmt = select(Slo).order_by(Slo.id)
    if enabled_only:
        stmt = stmt.where(Slo.enabled.is_(True))
    return list(session.scalars(stmt))


def get_slo(session: Session, slo_id: str, *, for_update: bool = False) -> Slo | None:
    stmt = select(Slo).where(Slo.id == slo_id)
    return session.scalar(stmt.with_for_update() if for_update else stmt)


def get_alert(session: Session, alert_id: uuid.UUID) -> Alert | None:
    return session.get(Alert, alert_id)


def open_alert(session: Session, slo_id: str, severity: str) -> Alert | None:
    stmt = select(Alert).where(
        Alert.slo_id == slo_id, Alert.severity == severity, Alert.state != "resolved"
    )
    return session.scalar(stmt.with_for_update())


def open_alerts_of(session: Session, slo_id: str) -> list[Alert]:
    stmt = select(Alert).where(Alert.slo_id == slo_id, Alert.state != "resolved")
    return list(session.scalars(stmt))


def list_alerts(
    session: Session,
    *,
    state: str | None,
    slo_id: str | None,
    severity: str | None,
    limit: int,
    offset: int,
) -> list[Alert]:
    stmt = select(Alert)
    if state:
        stmt = stmt.where(Alert.state == state)
    if slo_id:
        stmt = stmt.where(Alert.slo_id == slo_id)
    if severity:
        stmt = stmt.where(Alert.severity == severity)
    stmt = stmt.order_by(Alert.opened_at.desc(), Alert.id).limit(limit).offset(offset)
    return list(session.scalars(stmt))


def alert_history(session: Session, alert_ids: Sequence[uuid.UUID]) -> list[AlertEvent]:
    if not alert_ids:
        return []
    stmt = (
        select(AlertEvent)
        .where(AlertEvent.alert_id.in_(alert_ids))
        .order_by(AlertEvent.alert_id, AlertEvent.id)
    )
    return list(session.scalars(stmt))


def alert_counts(session: Session) -> list[Any]:
    """(state, severity, alerts) for each state and severity that has alerts."""
    return list(
        session.execute(
            select(Alert.state, Alert.severity, func.count()).group_by(Alert.state, Alert.severity)
        )
    )
