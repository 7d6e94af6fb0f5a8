"""Sinks and the notification outbox: register sinks, deliver due messages with backoff.

Nothing is dropped: a message is a row written with the alert change; a failed attempt
records its error and schedules the next one (exponential backoff, capped); after
`notify_max_attempts` it is `dead`, still stored and visible, and an admin can requeue it.
Due rows are taken with `FOR UPDATE SKIP LOCKED`, so several replicas never send one twice.
"""

from __future__ import annotations

import random
import re
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from core import audit
from core.auth import Principal
from core.clock import utcnow
from core.db import unit_of_work
from core.errors import InvalidInput
from core.settings import Settings
from monitors.errors import NotificationNotFound, SinkExists, SinkNotFound
from monitors.notify import repository
from monitors.notify.models import Notification, NotificationSink
from monitors.notify.sinks import DeliveryFailed, send

EMAIL = re.compile(r"^[^@\s,]+@[^@\s,]+$")


def create_sink(session: Session, actor: Principal, *, data: dict[str, Any]) -> NotificationSink:
    """Register a sink; the webhook secret is stored for signing and never shown again."""
    if repository.sink_by_name(session, data["name"]) is not None:
        raise SinkExists(f"a sink named {data['name']!r} exists", field="name", rule="unique")
    _check_target(data["kind"], data["target"], data.get("secret"))
    sink = NotificationSink(
        name=data["name"],
        kind=data["kind"],
        target=data["target"],
        secret=data.get("secret"),
        severities=list(dict.fromkeys(data["severities"])),
        enabled=data["enabled"],
        created_at=utcnow(),
        created_by=actor.name,
    )
    session.add(sink)
    session.flush()
    audit.record(
        session,
        actor=actor.name,
        action="sink.create",
        object_type="notification_sink",
        object_id=sink.name,
        after={"kind": sink.kind, "severities": sink.severities, "signed": sink.secret is not None},
    )
    return sink


def _check_target(kind: str, target: str, secret: str | None) -> None:
    if kind in ("webhook", "slack") and not re.match(r"^https?://[^\s/]+", target):
        raise InvalidInput(f"a {kind} sink needs an http(s) URL", field="target", rule="url")
    if kind == "webhook" and (secret is None or len(secret) < 16):
        raise InvalidInput(
            "a webhook sink needs a secret of at least 16 characters to sign with",
            field="secret",
            rule="min_length_16",
        )
    if kind == "email":
        addresses = [a.strip() for a in target.split(",")]
        bad = [a for a in addresses if not EMAIL.match(a)]
        if bad or not addresses:
            raise InvalidInput(f"not email addresses: {bad}", field="target", rule="email")


def set_sink_enabled(
    session: Session, actor: Principal, *, name: str, enabled: bool
) -> NotificationSink:
    sink = repository.sink_by_name(session, name)
    if sink is None:
        raise SinkNotFound(f"no sink named {name!r}", field="name", rule="exists")
    if sink.enabled != enabled:
        sink.enabled = enabled
        audit.record(
            session,
            actor=actor.name,
            action="sink.update",
            object_type="notification_sink",
            object_id=name,
            before={"enabled": not enabled},
            after={"enabled": enabled},
        )
    return sink


def requeue(session: Session, actor: Principal, *, notification_id: int) -> Notification:
    """Send a dead (or pending) notification again now."""
    row = repository.get_notification(session, notification_id)
    if row is None:
        raise NotificationNotFound(f"no notification {notification_id}", field="notification_id")
    if row.status == "delivered":
        raise InvalidInput(
            "this notification was delivered", field="notification_id", rule="not_delivered"
        )
    before = row.status
    row.status, row.next_attempt_at = "pending", utcnow()
    audit.record(
        session,
        actor=actor.name,
        action="notification.requeue",
        object_type="notification",
        object_id=str(row.id),
        before={"status": before},
        after={"status": "pending"},
    )
    return row


def list_sinks(session: Session) -> list[NotificationSink]:
    return repository.list_sinks(session)


def list_notifications(
    session: Session, *, status: str | None, alert_id: uuid.UUID | None, limit: int, offset: int
) -> list[Notification]:
    """The outbox, newest first, optionally of one status or alert."""
    return repository.list_notifications(
        session, status=status, alert_id=alert_id, limit=limit, offset=offset
    )


def backoff(attempts: int, settings: Settings) -> timedelta:
    """Exponential: base · 2^(attempts-1), capped, with up to 10% jitter against herds."""
    delay = min(
        settings.notify_backoff_seconds * 2 ** (attempts - 1), settings.notify_backoff_max_seconds
    )
    return timedelta(seconds=delay * (1 + random.random() * 0.1))


@dataclass
class DeliveryReport:
    delivered: int = 0
    failed: int = 0
    dead: int = 0


def deliver_due(
    sessions: sessionmaker[Session], *, settings: Settings, limit: int = 100
) -> DeliveryReport:
    """Attempt every due notification once; each outcome is committed as it happens."""
    report = DeliveryReport()
    while True:
        with unit_of_work(sessions) as session:
            rows = repository.due_notifications(session, utcnow(), 1)
            if not rows:
                return report
            attempt(session, rows[0], settings=settings, report=report)
        limit -= 1
        if limit <= 0:
            return report


def attempt(
    session: Session, row: Notification, *, settings: Settings, report: DeliveryReport
) -> None:
    sink = repository.get_sink(session, row.sink_id)
    now = utcnow()
    row.attempts += 1
    try:
        if sink is None:
            raise DeliveryFailed("the sink no longer exists")
        send(
            sink,
            row.payload,
            settings=settings,
            now_ts=int(now.timestamp()),
            delivery_id=f"{row.id}",
        )
    except DeliveryFailed as exc:
        row.last_error = str(exc)
        if row.attempts >= settings.notify_max_attempts:
            row.status = "dead"
            report.dead += 1
        else:
            row.next_attempt_at = now + backoff(row.attempts, settings)
            report.failed += 1
        return
    row.status, row.delivered_at, row.last_error = "delivered", now, None
    report.delivered += 1


def sink_id_of(session: Session, name: str) -> uuid.UUID:
    sink = repository.sink_by_name(session, name)
    if sink is None:
        raise SinkNotFound(f"no sink named {name!r}", field="name", rule="exists")
    return sink.id
