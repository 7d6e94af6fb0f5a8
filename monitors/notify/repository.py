"""Every query of notification sinks and the outbox."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitors.notify.models import Notification, NotificationSink


def list_sinks(session: Session, *, enabled_only: bool = False) -> list[NotificationSink]:
    stmt = select(NotificationSink).order_by(NotificationSink.name)
    if enabled_only:
        stmt = stmt.where(NotificationSink.enabled.is_(True))
    return list(session.scalars(stmt))


def get_sink(session: Session, sink_id: uuid.UUID) -> NotificationSink | None:
    return session.get(NotificationSink, sink_id)


def sink_by_name(session: Session, name: str) -> NotificationSink | None:
    return session.scalar(select(NotificationSink).where(NotificationSink.name == name))


def due_notifications(session: Session, now: datetime, limit: int) -> list[Notification]:
    """Due outbox rows, locked; another replica skips them instead of sending twice."""
    stmt = (
        select(Notification)
        .where(Notification.status == "pending", Notification.next_attempt_at <= now)
        .order_by(Notification.next_attempt_at, Notification.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(session.scalars(stmt))


def list_notifications(
    session: Session, *, status: str | None, alert_id: uuid.UUID | None, limit: int, offset: int
) -> list[Notification]:
    stmt = select(Notification)
    if status:
        stmt = stmt.where(Notification.status == status)
    if alert_id:
        stmt = stmt.where(Notification.alert_id == alert_id)
    stmt = stmt.order_by(Notification.id.desc()).limit(limit).offset(offset)
    return list(session.scalars(stmt))


def get_notification(session: Session, notification_id: int) -> Notification | None:
    stmt = select(Notification).where(Notification.id == notification_id).with_for_update()
    return session.scalar(stmt)
