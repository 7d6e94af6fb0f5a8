"""Every query of incident records (other domains read them through these functions)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import String, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from incidents.models import NOT_CLOSED, Incident


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


def get_incident(session: Session, incident_id: uuid.UUID) -> Incident | None:
    return session.get(Incident, incident_id)


def incidents_of_model(session: Session, name: str) -> list[Incident]:
    return list(
        session.scalars(
            select(Incident).where(Incident.model_name == name).order_by(Incident.opened_at)
        )
    )
