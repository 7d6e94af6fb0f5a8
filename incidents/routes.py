"""HTTP routes of incidents: list, open, read (timeline and impact), change, add notes."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, status

from core.auth import Principal, Role
from core.http import AppSettings, DbSession, Reviewer, Viewer, require
from incidents import service
from incidents.impact import impact
from incidents.models import Incident
from incidents.runbooks import runbook_url
from incidents.schemas import (
    IncidentCreate,
    IncidentDetail,
    IncidentPage,
    IncidentRead,
    IncidentUpdate,
    NoteCreate,
    Severity,
    Status,
    TimelineEntry,
)

router = APIRouter(tags=["incidents"])
IncidentId = Annotated[uuid.UUID, Path(description="Incident id.")]
# On-call producers write notes too; changing the record itself takes a reviewer or admin.
NoteWriter = Annotated[Principal, Depends(require(Role.producer, Role.reviewer, Role.admin))]


def read_of(incident: Incident, public_url: str) -> dict[str, Any]:
    doc = IncidentRead.model_validate(
        {
            **{c: getattr(incident, c) for c in IncidentRead.model_fields if c != "runbook_url"},
            "runbook_url": runbook_url(public_url, incident.runbook),
        }
    )
    return doc.model_dump()


@router.get("/incidents", response_model=IncidentPage)
def list_incidents(
    session: DbSession,
    _: Viewer,
    settings: AppSettings,
    status_: Annotated[
        Status | None, Query(alias="status", description="Only this status.")
    ] = None,
    severity: Annotated[Severity | None, Query(description="Only this severity.")] = None,
    source: Annotated[
        str | None, Query(max_length=50, description="Only this source (alert, manual, …).")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500, description="Page size.")] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000, description="Skip this many.")] = 0,
) -> dict[str, Any]:
    """Incidents, newest first, optionally of one status, severity or source."""
    total, rows = service.list_incidents(
        session, status=status_, severity=severity, source=source, limit=limit, offset=offset
    )
    return {
        "total": total,
        "offset": offset,
        "items": [read_of(i, settings.public_url) for i in rows],
    }


@router.post("/incidents", response_model=IncidentRead, status_code=status.HTTP_201_CREATED)
def open_incident(
    session: DbSession, actor: Reviewer, settings: AppSettings, body: IncidentCreate
) -> dict[str, Any]:
    """Open an incident by hand (reviewer or admin)."""
    incident = service.open_manual(session, actor, body=body.model_dump())
    return read_of(incident, settings.public_url)


@router.get("/incidents/{incident_id}", response_model=IncidentDetail)
def get_incident(
    session: DbSession, _: Viewer, settings: AppSettings, incident_id: IncidentId
) -> dict[str, Any]:
    """One incident with its timeline and its impact through lineage."""
    incident = service.get_incident(session, incident_id)
    return {
        **read_of(incident, settings.public_url),
        "timeline": [
            TimelineEntry.model_validate(e).model_dump()
            for e in service.timeline(session, incident_id)
        ],
        "impact": impact(session, incident, namespace=settings.lineage_namespace),
    }


@router.patch("/incidents/{incident_id}", response_model=IncidentRead)
def update_incident(
    session: DbSession,
    actor: Reviewer,
    settings: AppSettings,
    incident_id: IncidentId,
    body: IncidentUpdate,
) -> dict[str, Any]:
    """Change status, severity, commander or title (reviewer or admin; each audited)."""
    changes = body.model_dump(exclude_unset=True)
    reason = changes.pop("reason", None)
    incident = service.update_incident(session, actor, incident_id, changes=changes, reason=reason)
    return read_of(incident, settings.public_url)


@router.post(
    "/incidents/{incident_id}/timeline",
    response_model=TimelineEntry,
    status_code=status.HTTP_201_CREATED,
)
def add_note(
    session: DbSession, actor: NoteWriter, incident_id: IncidentId, body: NoteCreate
) -> TimelineEntry:
    """Add a note to the timeline (producer, reviewer or admin)."""
    return TimelineEntry.model_validate(
        service.add_note(session, actor, incident_id, note=body.note)
    )
