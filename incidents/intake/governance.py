"""Governance on incidents: the bake guard's rollback opens one (major) with a `rollback`
entry, and a promotion the incidents gate refuses lands as `promotion_blocked` (once per
model version).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from core.auth import Principal
from incidents import repository, service
from incidents.models import Incident

ROLLBACK_SEVERITY = "major"


def bake_rollback(
    session: Session,
    actor: Principal,
    *,
    model_name: str,
    version: int,
    restored: int,
    request_id: str,
    reasons: str,
    details: Mapping[str, Any],
    at: datetime,
    promoted_at: datetime | None = None,
) -> Incident:
    """The bake guard rolled a promotion back: a new incident with a `rollback` entry."""
    incident = service.open_incident(
        session,
        actor,
        title=f"bake guard rolled back {model_name} v{version} to v{restored}",
        severity=ROLLBACK_SEVERITY,
        source="bake_guard",
        model_name=model_name,
        model_version=version,
        affected={
            "promotion_requests": [request_id],
            "model_versions": [f"{model_name}:{version}"],
        },
        details=details,
        first_bad_at=promoted_at,
        at=at,
    )
    service.record_event(
        session,
        incident.id,
        kind="rollback",
        actor=actor.name,
        summary=f"rolled back {model_name} v{version} → v{restored}: {reasons}",
        at=at,
        details={
            "model_name": model_name,
            "from_version": version,
            "to_version": restored,
            "promotion_request": request_id,
            "reasons": reasons,
        },
        source_key=f"rollback:{request_id}",
    )
    return incident


def promotion_blocked(
    session: Session,
    *,
    incident_ids: Iterable[uuid.UUID | str],
    request_id: uuid.UUID | str,
    model_name: str,
    version: int,
    at: datetime,
    actor: str = "promotion-gates",
) -> int:
    """Each blocking incident records the refused promotion of a model version once (a
    version has at most one active promotion request; `request_id` is the one seen first)."""
    added = 0
    for raw in incident_ids:
        incident = repository.get_incident(session, uuid.UUID(str(raw)))
        if incident is None:
            continue
        entry = service.record_event(
            session,
            incident.id,
            kind="promotion_blocked",
            actor=actor,
            summary=f"promotion of {model_name} v{version} blocked by this incident",
            at=at,
            details={"promotion_request": str(request_id), "model": model_name, "version": version},
            source_key=f"promotion:{model_name}:v{version}",
        )
        if entry is not None:
            service.attach(incident, affected={"promotion_requests": [str(request_id)]})
            added += 1
    session.flush()
    return added
