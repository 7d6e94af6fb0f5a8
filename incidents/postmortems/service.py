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
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from checks import repository as checks_repository
from core import audit
from core.auth import Principal
from core.clock import utcnow
from core.jsonsafe import jsonsafe
from incidents.grouping import downstream_model_versions
from incidents.models import Incident, Postmortem, PostmortemActionItem
from incidents.postmortems import drafting
from incidents.postmortems import repository as repo
from incidents.postmortems.errors import (
    ActionItemNotFound,
    ActionItemSuperseded,
    IllegalPostmortemTransition,
    IncidentNotFound,
    IncompletePostmortem,
    InvalidActionItems,
    PostmortemExists,
    PostmortemNotFound,
    PostmortemPublished,
)
from ranker import repository as ranker_repository

NARRATIVE = ("title", "summary", "impact", "root_causes", "trigger", "detection", "resolution")
LESSONS = ("went_well", "went_badly", "got_lucky")
REQUIRED_TO_PUBLISH = ("summary", "root_causes", "resolution")
EDITABLE = ("draft", "in_review")
BATCH_PAGE = 1000
MAX_DATASET_BATCHES = 100_000  # per dataset and incident window: more is not one incident


# --- facts -----------------------------------------------------------------------------------


def _facts(incident: Incident) -> drafting.IncidentFacts:
    return drafting.IncidentFacts(
        id=str(incident.id),
        title=incident.title,
        source=incident.source,
        severity=incident.severity,
        opened_at=incident.opened_at,
        first_bad_at=incident.first_bad_at,
        stable_at=incident.stable_at,
        closed_at=incident.closed_at,
        runbook=incident.runbook,
        datasets=list(incident.datasets or []),
        model_name=incident.model_name,
        model_version=incident.model_version,
        affected=dict(incident.affected or {}),
        details=dict(incident.details or {}),
    )


def _entries(session: Session, incident_id: uuid.UUID) -> list[drafting.Entry]:
    return [
        drafting.Entry(e.at, e.kind, e.actor, e.summary, dict(e.details or {}))
        for e in repo.timeline(session, incident_id)
    ]


def _batches(
    session: Session,
    facts: drafting.IncidentFacts,
    entries: Sequence[drafting.Entry],
    end: datetime,
) -> list[dict[str, Any]]:
    """The affected batches: the ones the incident names, and every batch of its datasets
    (contract ids) received from the first bad data to the resolution."""
    found: dict[uuid.UUID, Any] = {}
    ids = []
    for raw in drafting.batch_ids(facts, entries):
        try:
            ids.append(uuid.UUID(raw))
        except ValueError:
            continue
    for b in checks_repository.batches_by_id(session, ids):
        found[b.id] = b
    start = drafting.started_at(facts, entries)
    for dataset in facts.datasets:
        for offset in range(0, MAX_DATASET_BATCHES, BATCH_PAGE):
            page = checks_repository.list_batches(
                session,
                contract_id=dataset,
                status=None,
                since=start,
                until=end,
                limit=BATCH_PAGE,
                offset=offset,
            )
            found.update((b.id, b) for b in page)
            if len(page) < BATCH_PAGE:
                break
    return [
        {
            "batch_id": str(b.id),
            "contract_id": b.contract_id,
            "status": b.status,
            "received_at": b.received_at,
            "rows_received": b.rows_received,
            "rows_accepted": b.rows_accepted,
            "rows_quarantined": b.rows_quarantined,
        }
        for b in found.values()
    ]


def _predictions(
    session: Session,
    facts: drafting.IncidentFacts,
    start: datetime,
    end: datetime,
    namespace: str | None,
) -> dict[str, int]:
    """Predictions each affected model version served from the first bad data to resolution;
    with a lineage namespace, versions downstream of the incident's datasets count too."""
    downstream = (
        downstream_model_versions(session, namespace, facts.datasets) if namespace else set()
    )
    return {
        f"{name}:{version}": int(
            ranker_repository.label_facts(session, name, version, start, end).predictions or 0
        )
        for name, version in drafting.model_versions(facts, sorted(downstream))
    }


def measure(
    session: Session,
    incident: Incident,
    *,
    now: datetime | None = None,
    namespace: str | None = None,
) -> tuple[list[drafting.Entry], dict[str, Any]]:
    """The incident's timeline and every figure of its postmortem, measured now."""
    facts = _facts(incident)
    entries = _entries(session, incident.id)
    end = incident.closed_at or now or utcnow()
    start = drafting.started_at(facts, entries)
    batches = _batches(session, facts, entries, end)
    predictions = _predictions(session, facts, start, end, namespace)
    figures = drafting.metrics(facts, entries, batches, predictions)
    return entries, figures


# --- lifecycle -------------------------------------------------------------------------------


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
    _audit(session, actor, "postmortem.draft", pm, after=_audited(pm, []))
    return pm


def update_postmortem(
    session: Session, actor: Principal, postmortem_id: uuid.UUID, *, changes: Mapping[str, Any]
) -> Postmortem:
    """Change narrative fields, lessons and action items of a draft or in-review revision."""
    pm = _editable(session, postmortem_id)
    before = _audited(pm, repo.action_items(session, pm.id))
    now = utcnow()
    for key in (*NARRATIVE, *LESSONS):
        if changes.get(key) is not None:
            setattr(pm, key, list(changes[key]) if key in LESSONS else changes[key])
    if changes.get("action_items") is not None:
        _replace_items(session, actor, pm, changes["action_items"], now)
    pm.updated_at, pm.updated_by = now, actor.name
    session.flush()
    _audit(
        session,
        actor,
        "postmortem.update",
        pm,
        before=before,
        after=_audited(pm, repo.action_items(session, pm.id)),
    )
    return pm


def submit(session: Session, actor: Principal, postmortem_id: uuid.UUID) -> Postmortem:
    """draft → in_review."""
    pm = _step(session, postmortem_id, "draft", "submit")
    now = utcnow()
    pm.status, pm.submitted_at, pm.updated_at, pm.updated_by = "in_review", now, now, actor.name
    session.flush()
    _audit(
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
    _audit(
        session,
        actor,
        "postmortem.publish",
        pm,
        before={"status": "in_review"},
        after=_audited(pm, repo.action_items(session, pm.id)),
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
    _audit(
        session,
        actor,
        "postmortem.revise",
        pm,
        before={"supersedes": str(old.id)},
        after=_audited(pm, repo.action_items(session, pm.id)),
    )
    return pm


def update_action_item(
    session: Session, actor: Principal, item_id: uuid.UUID, *, status: str
) -> PostmortemActionItem:
    """Change an action item's status (also after publishing): the newest revision's only."""
    item = repo.get_action_item(session, item_id)
    if item is None:
        raise ActionItemNotFound(f"action item {item_id} not found", field="id")
    pm = get_postmortem(session, item.postmortem_id)
    newest = repo.newest_revision(session, pm.incident_id)
    if pm.revision != newest:
        raise ActionItemSuperseded(
            f"this item belongs to revision {pm.revision}; revision {newest} carries it now",
            field="id",
            rule="newest_revision_only",
        )
    before = item.status
    item.status, item.updated_at, item.updated_by = status, utcnow(), actor.name
    session.flush()
    audit.record(
        session,
        actor=actor.name,
        action="postmortem.action_item.update",
        object_type="postmortem_action_item",
        object_id=str(item.id),
        before={"status": before},
        after={"status": status},
        postmortem_id=str(pm.id),
    )
    return item


# --- reads -----------------------------------------------------------------------------------


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
    doc["action_items"] = [_item_json(i) for i in repo.action_items(session, pm.id)]
    return doc


def list_action_items(
    session: Session, *, status: str | None, owner: str | None, limit: int, offset: int
) -> dict[str, Any]:
    total, rows = repo.list_action_items(
        session, status=status, owner=owner, limit=limit, offset=offset
    )
    items = [
        {
            **_item_json(item),
            "incident_id": pm.incident_id,
            "postmortem_title": pm.title,
            "postmortem_status": pm.status,
        }
        for item, pm in rows
    ]
    return {"total": total, "offset": offset, "items": items}


# --- helpers ---------------------------------------------------------------------------------


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


def _replace_items(
    session: Session,
    actor: Principal,
    pm: Postmortem,
    items: Sequence[Mapping[str, Any]],
    now: datetime,
) -> None:
    """The revision's items become exactly `items`: kept by id, added without, others dropped."""
    current = {i.id: i for i in repo.action_items(session, pm.id)}
    kept: set[uuid.UUID] = set()
    for position, data in enumerate(items):
        fields = {k: data[k] for k in ("title", "owner", "priority", "status", "due") if k in data}
        item_id = data.get("id")
        if item_id is not None:
            item = current.get(item_id)
            if item is None:
                raise InvalidActionItems(
                    f"action item {item_id} is not one of this revision's",
                    field=f"action_items.{position}.id",
                    rule="item_of_this_revision",
                )
            if item_id in kept:
                raise InvalidActionItems(
                    f"action item {item_id} is listed twice",
                    field=f"action_items.{position}.id",
                    rule="unique_items",
                )
            for k, v in fields.items():
                setattr(item, k, v)
            item.position, item.updated_at, item.updated_by = position, now, actor.name
            kept.add(item_id)
        else:
            session.add(
                PostmortemActionItem(
                    postmortem_id=pm.id,
                    position=position,
                    **{"status": "open", **fields},
                    created_at=now,
                    updated_at=now,
                    updated_by=actor.name,
                )
            )
    repo.delete_action_items(session, [i for i in current if i not in kept])
    session.flush()


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


def _item_json(i: PostmortemActionItem) -> dict[str, Any]:
    return {c: getattr(i, c) for c in PostmortemActionItem.__table__.columns.keys()}  # noqa: SIM118


def _audited(pm: Postmortem, items: Sequence[PostmortemActionItem]) -> dict[str, Any]:
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


def _audit(
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
