"""Every query of incident records (other domains read them through these functions)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import String, func, or_, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from incidents.models import NOT_CLOSED, Incident, IncidentEvent


def open_incident_ids(session: Session, datasets: Sequence[str]) -> list[uuid.UUID]:
    """Incidents not yet closed on any of these datasets."""
    return list(
        session.scalars(
            select(Incident.id).where(
                Incident.status.in_(NOT_CLOSED),
                Incident.datasets.has_any(postgresql.array(list(datasets), type_=String)),
            )
        )
    )


def open_incidents(
    session: Session, datasets: Sequence[str], *, severities: Sequence[str]
) -> list[Incident]:
    """Incidents not yet closed, of these severities on any of these datasets."""
    return list(
        session.scalars(
            select(Incident).where(
                Incident.status.in_(NOT_CLOSED),
                Incident.severity.in_(list(severities)),
                Incident.datasets.has_any(postgresql.array(list(datasets), type_=String)),
            )
        )
    )


def get_incident(
    session: Session, incident_id: uuid.UUID, *, for_update: bool = False
) -> Incident | None:
    if for_update:
        stmt = select(Incident).where(Incident.id == incident_id).with_for_update()
        return session.scalar(stmt)
    return session.get(Incident, incident_id)


def incidents_of_model(session: Session, name: str) -> list[Incident]:
    return list(
        session.scalars(
            select(Incident).where(Incident.model_name == name).order_by(Incident.opened_at)
        )
    )


def _filtered(stmt: Any, status: str | None, severity: str | None, source: str | None) -> Any:
    if status:
        stmt = stmt.where(Incident.status == status)
    if severity:
        stmt = stmt.where(Incident.severity == severity)
    if source:
        stmt = stmt.where(Incident.source == source)
    return stmt


def list_incidents(
    session: Session,
    *,
    status: str | None,
    severity: str | None,
    source: str | None,
    limit: int,
    offset: int,
) -> tuple[int, list[Incident]]:
    """(matching total, one page newest first)."""
    total = session.scalar(_filtered(select(func.count(Incident.id)), status, severity, source))
    page = _filtered(select(Incident), status, severity, source)
    page = page.order_by(Incident.opened_at.desc(), Incident.id).limit(limit).offset(offset)
    return int(total or 0), list(session.scalars(page))


def insert_event(session: Session, values: dict[str, Any]) -> int | None:
    """Add a timeline entry; None when one with the same (incident, source_key) exists.

    ON CONFLICT keeps two writers of the same signal (the runner on two replicas, a retry)
    from failing each other's transaction: the second simply finds it there.
    """
    stmt = (
        postgresql.insert(IncidentEvent)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["incident_id", "source_key"])
        .returning(IncidentEvent.id)
    )
    return session.scalar(stmt)


def get_event(session: Session, event_id: int) -> IncidentEvent | None:
    return session.get(IncidentEvent, event_id)


def has_event(session: Session, incident_id: uuid.UUID, source_key: str) -> bool:
    stmt = select(IncidentEvent.id).where(
        IncidentEvent.incident_id == incident_id, IncidentEvent.source_key == source_key
    )
    return session.scalar(stmt) is not None


def events_of(
    session: Session, incident_id: uuid.UUID, kinds: Sequence[str] | None = None
) -> list[IncidentEvent]:
    """An incident's timeline, oldest first (ties in the order recorded)."""
    stmt = select(IncidentEvent).where(IncidentEvent.incident_id == incident_id)
    if kinds:
        stmt = stmt.where(IncidentEvent.kind.in_(list(kinds)))
    return list(session.scalars(stmt.order_by(IncidentEvent.at, IncidentEvent.id)))


def recently_active(
    session: Session, since: datetime, signal_kinds: Sequence[str]
) -> list[Incident]:
    """Incidents not closed that were opened, or got a signal, at or after `since`; newest
    first. Locked, so two signals grouped at once cannot both miss each other's changes."""
    recent_signal = (
        select(IncidentEvent.id)
        .where(
            IncidentEvent.incident_id == Incident.id,
            IncidentEvent.kind.in_(list(signal_kinds)),
            IncidentEvent.at >= since,
        )
        .exists()
    )
    stmt = (
        select(Incident)
        .where(Incident.status.in_(NOT_CLOSED), or_(Incident.opened_at >= since, recent_signal))
        .order_by(Incident.opened_at.desc(), Incident.id)
        .with_for_update(of=Incident)
    )
    return list(session.scalars(stmt))


def incidents_with_alert(session: Session, alert_id: str) -> list[Incident]:
    """Incidents an alert is attached to (`affected.alerts` holds its id)."""
    stmt = select(Incident).where(Incident.affected.contains({"alerts": [alert_id]}))
    return list(session.scalars(stmt.order_by(Incident.opened_at)))


def not_closed(session: Session) -> list[Incident]:
    stmt = select(Incident).where(Incident.status.in_(NOT_CLOSED)).order_by(Incident.opened_at)
    return list(session.scalars(stmt))


def not_closed_on(session: Session, dataset: str) -> list[Incident]:
    """Incidents not closed whose datasets name this one, newest first."""
    stmt = select(Incident).where(
        Incident.status.in_(NOT_CLOSED), Incident.datasets.contains([dataset])
    )
    return list(session.scalars(stmt.order_by(Incident.opened_at.desc())))


def recorded_sources(session: Session, source_keys: Sequence[str]) -> set[str]:
    """Which of these source keys any incident's timeline already holds."""
    if not source_keys:
        return set()
    stmt = select(IncidentEvent.source_key).where(IncidentEvent.source_key.in_(list(source_keys)))
    return {k for k in session.scalars(stmt) if k is not None}
