"""A postmortem record as the API reads it and as the audit trail keeps it."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from core import audit
from core.auth import Principal
from core.jsonsafe import jsonsafe
from incidents.models import Postmortem, PostmortemActionItem
from incidents.postmortems import repository as repo
from incidents.postmortems.errors import IncidentNotFound, PostmortemNotFound

NARRATIVE = ("title", "summary", "impact", "root_causes", "trigger", "detection", "resolution")
LESSONS = ("went_well", "went_badly", "got_lucky")


def get_postmortem(session: Session, postmortem_id: uuid.UUID) -> Postmortem:
    pm = repo.get_postmortem(session, postmortem_id)
    if pm is None:
        raise PostmortemNotFound(f"postmortem {postmortem_id} not found", field="id")
    return pm


def latest_for_incident(session: Session, incident_id: uuid.UUID) -> Postmortem:
    """The incident's newest revision."""
    if repo.get_incident(session, incident_id) is None:
        raise IncidentNotFound(f"incident {incident_id} not found", field="id")
    revisions = repo.revisions_of(session, incident_id)
    if not revisions:
        raise PostmortemNotFound(
            f"incident {incident_id} has no postmortem yet (POST /incidents/{{id}}/postmortem)",
            field="id",
        )
    return revisions[0]


def describe(session: Session, pm: Postmortem) -> dict[str, Any]:
    """The postmortem's read document, with its action items."""
    doc = {c: getattr(pm, c) for c in Postmortem.__table__.columns.keys()}  # noqa: SIM118
    doc["action_items"] = [item_json(i) for i in repo.action_items(session, pm.id)]
    return doc


def item_json(i: PostmortemActionItem) -> dict[str, Any]:
    return {c: getattr(i, c) for c in PostmortemActionItem.__table__.columns.keys()}  # noqa: SIM118


def audited(pm: Postmortem, items: Sequence[PostmortemActionItem]) -> dict[str, Any]:
    return jsonsafe(
        {
            "incident_id": pm.incident_id,
            "revision": pm.revision,
            "status": pm.status,
            **{k: getattr(pm, k) for k in (*NARRATIVE, *LESSONS)},
            "action_items": [
                {k: getattr(i, k) for k in ("id", "title", "owner", "priority", "status", "due")}
                for i in items
            ],
        }
    )


def audit_change(
    session: Session,
    actor: Principal,
    action: str,
    pm: Postmortem,
    *,
    before: Any = None,
    after: Any = None,
) -> None:
    audit.record(
        session,
        actor=actor.name,
        action=action,
        object_type="postmortem",
        object_id=str(pm.id),
        before=before,
        after=after,
        incident_id=str(pm.incident_id),
        revision=pm.revision,
    )
