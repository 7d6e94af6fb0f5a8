"""Notifications on incidents: each one delivered (or given up on) for an alert attached to
an incident lands once as a `notification` entry.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from incidents import repository, service
from incidents.intake.joining import MONITOR


def attached_alert_ids(session: Session) -> list[str]:
    """Alerts attached to incidents not closed (whose notifications the timeline records)."""
    ids: list[str] = []
    for incident in repository.not_closed(session):
        ids += [a for a in (incident.affected or {}).get("alerts", []) if a not in ids]
    return ids


def notification_sent(
    session: Session,
    *,
    alert_id: str,
    notification_id: int | str,
    sink: str,
    event: str,
    delivered: bool,
    at: datetime,
    error: str | None = None,
    actor: str = MONITOR.name,
) -> int:
    """A notification for an attached alert was delivered (or given up on): one entry each."""
    added = 0
    for incident in repository.incidents_with_alert(session, alert_id):
        entry = service.record_event(
            session,
            incident.id,
            kind="notification",
            actor=actor,
            summary=(
                f"{event} notification {'sent' if delivered else 'not delivered'} to {sink}"
                + ("" if delivered or not error else f": {error[:200]}")
            ),
            at=at,
            details={
                "alert_id": alert_id,
                "notification_id": str(notification_id),
                "sink": sink,
                "event": event,
                "delivered": delivered,
                "error": error,
            },
            source_key=f"notification:{notification_id}",
        )
        if entry is not None:
            incident.notifications = [
                *incident.notifications,
                {"sink": sink, "delivered": delivered, "event": event, "alert_id": alert_id},
            ]
            added += 1
    session.flush()
    return added
