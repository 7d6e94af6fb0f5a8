"""Postmortem lifecycle: draft from an incident, edit, submit, publish, amend by revision.

draft → in_review → published. Narrative fields and action items change while a revision is
a draft or in review; a published revision is final here (409) and in the database (a trigger
refuses any UPDATE or DELETE of it), so it is amended only by a new draft revision that copies
it (`supersedes_id`). Action items of the newest revision are the live ones: their status
changes even after publishing (what was decided stays; whether it is done moves on). Every
change is audited in the caller's transaction, and drafting and publishing also land on the
incident's timeline.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from core.auth import Principal
from core.clock import utcnow
from core.jsonsafe import jsonsafe
from incidents.models import Postmortem, PostmortemActionItem
from incidents.postmortems import drafting
from incidents.postmortems import repository as repo
from incidents.postmortems.action_items import replace_items
from incidents.postmortems.errors import (
    IllegalPostmortemTransition,
    IncidentNotFound,
    IncompletePostmortem,
    PostmortemExists,
    PostmortemNotFound,
    PostmortemPublished,
)
from incidents.postmortems.figures import measure
from incidents.postmortems.records import (
    LESSONS,
    NARRATIVE,
    audit_change,
    audited,
    get_postmortem,
)

REQUIRED_TO_PUBLISH = ("summary", "root_causes", "resolution")
EDITABLE = ("draft", "in_review")


def draft_postmortem(
    session: Session,
    actor: Principal,
    incident_id: uuid.UUID,
    *,
    now: datetime | None = None,
    namespace: str | None = None,
) -> Postmortem:
    """Draft the incident's postmortem: its timeline and figures, a first detection and impact
    sentence; 409 if a draft or in-review revision exists, or one was published (revise it).
    `namespace` (the lineage namespace) adds the model versions downstream of its datasets."""
    incident = repo.lock_incident(session, incident_id)
    if incident is None:
        raise IncidentNotFound(f"incident {incident_id} not found", field="id")
    existing = repo.revisions_of(session, incident_id)
    if existing:
        newest = existing[0]
        how = (
            f"POST /postmortems/{newest.id}/revisions amends it"
            if newest.status == "published"
            else "edit it with PATCH /postmortems/{id}"
        )
        raise PostmortemExists(
            f"incident {incident_id} already has a postmortem (revision {newest.revision}, "
            f"{newest.status}); {how}",
            field="id",
            rule="one_open_revision",
            extra={"postmortem_id": str(newest.id), "postmortem_status": newest.status},
        )
    now = now or utcnow()
    entries, figures = measure(session, incident, now=now, namespace=namespace)
    pm = Postmortem(
        incident_id=incident.id,
        revision=1,
        status="draft",
        title=f"Postmortem: {incident.title}"[:500],
        detection=drafting.detection_text(figures),
        impact=drafting.impact_text(figures),
        timeline=jsonsafe([_entry_json(e) for e in entries]),
        metrics=jsonsafe(figures),
        created_at=now,
        created_by=actor.name,
        updated_at=now,
        updated_by=actor.name,
    )
    session.add(pm)
    session.flush()
    _on_timeline(session, pm, "drafted", actor, now)
    audit_change(session, actor, "postmortem.draft", pm, after=audited(pm, []))
    return pm


def update_postmortem(
    session: Session, actor: Principal, postmortem_id: uuid.UUID, *, changes: Mapping[str, Any]
) -> Postmortem:
    """Change narrative fields, lessons and action items of a draft or in-review revision."""
    pm = _editable(session, postmortem_id)
    before = audited(pm, repo.action_items(session, pm.id))
    now = utcnow()
    for key in (*NARRATIVE, *LESSONS):
        if changes.get(key) is not None:
            setattr(pm, key, list(changes[key]) if key in LESSONS else changes[key])
    if changes.get("action_items") is not None:
        replace_items(session, actor, pm, changes["action_items"], now)
    pm.updated_at, pm.updated_by = now, actor.name
    session.flush()
    audit_change(
        session,
        actor,
        "postmortem.update",
        pm,
        before=before,
        after=audited(pm, repo.action_items(session, pm.id)),
    )
    return pm


def submit(session: Session, actor: Principal, postmortem_id: uuid.UUID) -> Postmortem:
    """draft → in_review."""
    pm = _step(session, postmortem_id, "draft", "submit")
    now = utcnow()
    pm.status, pm.submitted_at, pm.updated_at, pm.updated_by = "in_review", now, now, actor.name
    session.flush()
    audit_change(
        session,
        actor,
        "postmortem.submit",
        pm,
        before={"status": "draft"},
        after={"status": "in_review"},
    )
    return pm


def publish(session: Session, actor: Principal, postmortem_id: uuid.UUID) -> Postmortem:
    """in_review → published: final from now on (reviewer or admin, checked by the route)."""
    pm = _step(session, postmortem_id, "in_review", "publish")
    for key in REQUIRED_TO_PUBLISH:
        if not (getattr(pm, key) or "").strip():
            raise IncompletePostmortem(
                f"write the {key} before publishing", field=key, rule="required_to_publish"
            )
    now = utcnow()
    pm.status, pm.published_at, pm.published_by = "published", now, actor.name
    pm.updated_at, pm.updated_by = now, actor.name
    session.flush()
    _on_timeline(session, pm, "published", actor, now)
    audit_change(
        session,
        actor,
        "postmortem.publish",
        pm,
        before={"status": "in_review"},
        after=audited(pm, repo.action_items(session, pm.id)),
    )
    return pm


def revise(session: Session, actor: Principal, postmortem_id: uuid.UUID) -> Postmortem:
    """A new draft revision copying a published one (its content and action items)."""
    old = get_postmortem(session, postmortem_id)
    repo.lock_incident(session, old.incident_id)
    if old.status != "published":
        raise IllegalPostmortemTransition(
            f"revision {old.revision} is {old.status}: edit it instead of revising it",
            field="status",
            rule="revise_published_only",
        )
    newest = repo.newest_revision(session, old.incident_id)
    if newest != old.revision:
        raise IllegalPostmortemTransition(
            f"revision {old.revision} is superseded by revision {newest}: revise the newest",
            field="id",
            rule="revise_newest_only",
        )
    now = utcnow()
    pm = Postmortem(
        incident_id=old.incident_id,
        revision=old.revision + 1,
        supersedes_id=old.id,
        status="draft",
        **{k: getattr(old, k) for k in (*NARRATIVE, *LESSONS, "timeline", "metrics")},
        created_at=now,
        created_by=actor.name,
        updated_at=now,
        updated_by=actor.name,
    )
    session.add(pm)
    session.flush()
    for item in repo.action_items(session, old.id):
        session.add(
            PostmortemActionItem(
                postmortem_id=pm.id,
                **{
                    k: getattr(item, k)
                    for k in (
                        "position",
                        "title",
                        "owner",
                        "priority",
                        "status",
                        "due",
                        "created_at",
                    )
                },
                updated_at=now,
                updated_by=actor.name,
            )
        )
    session.flush()
    audit_change(
        session,
        actor,
        "postmortem.revise",
        pm,
        before={"supersedes": str(old.id)},
        after=audited(pm, repo.action_items(session, pm.id)),
    )
    return pm


def _editable(session: Session, postmortem_id: uuid.UUID) -> Postmortem:
    pm = repo.get_postmortem(session, postmortem_id, for_update=True)
    if pm is None:
        raise PostmortemNotFound(f"postmortem {postmortem_id} not found", field="id")
    if pm.status not in EDITABLE:
        raise PostmortemPublished(
            f"revision {pm.revision} is published and cannot change; "
            f"POST /postmortems/{pm.id}/revisions amends it",
            field="status",
            rule="published_is_final",
        )
    return pm


def _step(session: Session, postmortem_id: uuid.UUID, from_status: str, step: str) -> Postmortem:
    pm = _editable(session, postmortem_id)
    if pm.status != from_status:
        raise IllegalPostmortemTransition(
            f"cannot {step} a postmortem that is {pm.status} (needs {from_status})",
            field="status",
            rule=f"{step}_from_{from_status}",
        )
    return pm


def _on_timeline(
    session: Session, pm: Postmortem, step: str, actor: Principal, at: datetime
) -> None:
    repo.add_timeline_entry(
        session,
        {
            "incident_id": pm.incident_id,
            "at": at,
            "kind": "postmortem",
            "actor": actor.name,
            "summary": f"postmortem revision {pm.revision} {step}",
            "details": {"postmortem_id": str(pm.id), "revision": pm.revision, "step": step},
            "source_key": f"postmortem:{pm.id}:{step}",
            "recorded_at": utcnow(),
        },
    )


def _entry_json(e: drafting.Entry) -> dict[str, Any]:
    return {
        "at": e.at,
        "kind": e.kind,
        "actor": e.actor,
        "summary": e.summary,
        "details": dict(e.details),
    }
