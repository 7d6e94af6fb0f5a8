"""How a signal joins an open incident by lineage, and who records signals (the runner).

Shared by the alert and batch intakes: a joining signal merges what it touches into the
incident, lands as one `grouped` entry, and may raise (never lower) the severity.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from core import audit
from core.auth import Principal, Role
from core.settings import Settings
from incidents import service
from incidents.grouping import Reach
from incidents.models import SEVERITIES, Incident

MONITOR = Principal(name="monitor-runner", role=Role.admin)


def group_window(settings: Settings) -> timedelta:
    """How close in time a signal must be to an incident's last signal to join it."""
    return timedelta(minutes=settings.incident_group_window_minutes)


def join(
    session: Session,
    incident: Incident,
    reach: Reach,
    *,
    actor: Principal,
    at: datetime,
    key: str,
    what: str,
    affected: Mapping[str, Iterable[Any]],
    first_bad_at: datetime | None = None,
    severity: str | None = None,
    runbook: str | None = None,
) -> None:
    """A signal joins an incident by lineage: merge what it touches, record `grouped`, and
    raise the severity to the signal's if that is higher (never lower it). An incident with
    no runbook yet (one a person opened) takes the signal's."""
    service.attach(
        incident,
        datasets=reach.datasets,
        affected={**affected, "model_versions": sorted(reach.model_versions)},
        first_bad_at=first_bad_at,
    )
    runbook = runbook if incident.runbook is None else None
    if runbook is not None:
        incident.runbook = runbook
        audit.record(
            session,
            actor=actor.name,
            action="incident.runbook",
            object_type=service.OBJECT_TYPE,
            object_id=str(incident.id),
            before={"runbook": None},
            after={"runbook": runbook},
            reason=f"{what} joined",
        )
    session.flush()
    service.record_event(
        session,
        incident.id,
        kind="grouped",
        actor=actor.name,
        summary=f"{what} joined this incident (shared datasets or model versions)",
        at=at,
        details={
            "datasets": sorted(reach.datasets),
            "model_versions": sorted(reach.model_versions),
            **({"runbook": runbook} if runbook else {}),
        },
        source_key=f"grouped:{key}",
    )
    if severity is not None and SEVERITIES.index(severity) < SEVERITIES.index(incident.severity):
        service.update_incident(
            session, actor, incident.id, changes={"severity": severity}, reason=f"{what} joined"
        )
