"""Incident rules: open one, let its timeline write itself, move it active → stable → closed.

Every function takes the session first, flushes and never commits; every change writes an
audit event in the caller's transaction. Signals (alerts, batches, rollbacks) land in the
timeline through `record_event`, idempotent by `source_key`, so a runner that sees the same
alert twice, or two replicas that both see it, leave one entry. Closed is final: reopening
is a new incident (a PATCH back to active answers 409).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from core import audit
from core.auth import Principal
from core.bounds import INT32_MAX
from core.clock import utcnow
from core.jsonsafe import jsonsafe
from incidents import repository
from incidents.errors import IllegalTransition, IncidentNotFound, InvalidIncident
from incidents.models import SEVERITIES, STATUSES, TIMELINE_KINDS, Incident, IncidentEvent
from incidents.runbooks import runbook_for_source

OBJECT_TYPE = "incident"
# Which status may follow which; a move back from stable to active is a relapse.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "active": ("stable", "closed"),
    "stable": ("active", "closed"),
    "closed": (),
}
EDITABLE = ("title", "severity", "commander")


def _check_choice(value: str, allowed: Iterable[str], field: str) -> None:
    allowed = tuple(allowed)
    if value not in allowed:
        raise InvalidIncident(
            f"{field} must be one of {list(allowed)}, not {value!r}", field=field, rule="one_of"
        )


def _check_title(title: str) -> str:
    title = title.strip()
    if not title or len(title) > 500:
        raise InvalidIncident("a title has 1 to 500 characters", field="title", rule="length_1_500")
    return title


def document(incident: Incident) -> dict[str, Any]:
    """What the audit trail records of an incident (before/after)."""
    return jsonsafe(
        {
            "title": incident.title,
            "severity": incident.severity,
            "status": incident.status,
            "source": incident.source,
            "commander": incident.commander,
            "datasets": incident.datasets,
            "model_name": incident.model_name,
            "model_version": incident.model_version,
            "runbook": incident.runbook,
        }
    )


def open_incident(
    session: Session,
    actor: Principal,
    *,
    title: str,
    severity: str,
    source: str,
    datasets: Iterable[str] = (),
    model_name: str | None = None,
    model_version: int | None = None,
    affected: Mapping[str, Any] | None = None,
    details: Mapping[str, Any] | None = None,
    first_bad_at: datetime | None = None,
    runbook: str | None = None,
    commander: str | None = None,
    summary: str | None = None,
    at: datetime | None = None,
) -> Incident:
    """Open an incident (audited) with an `opened` timeline entry; never groups (see intake)."""
    _check_choice(severity, SEVERITIES, "severity")
    if not source or len(source) > 50:
        raise InvalidIncident("a source has 1 to 50 characters", field="source", rule="length")
    now = at or utcnow()
    details = jsonsafe(dict(details or {}))
    incident = Incident(
        id=uuid.uuid4(),
        title=_check_title(title),
        severity=severity,
        status="active",
        source=source,
        datasets=sorted(set(datasets)),
        model_name=model_name,
        model_version=model_version,
        affected=jsonsafe(dict(affected or {})),
        commander=commander,
        runbook=runbook or runbook_for_source(source, details),
        details=details,
        notifications=[],
        first_bad_at=first_bad_at,
        opened_at=now,
        opened_by=actor.name,
        updated_at=now,
    )
    session.add(incident)
    session.flush()
    audit.record(
        session,
        actor=actor.name,
        action="incident.open",
        object_type=OBJECT_TYPE,
        object_id=str(incident.id),
        after=document(incident),
    )
    record_event(
        session,
        incident.id,
        kind="opened",
        actor=actor.name,
        summary=summary or f"opened: {incident.title}",
        at=now,
        details={"source": source, "severity": severity},
        source_key="opened",
        audited=False,  # the incident.open event above covers it
    )
    return incident


def open_manual(session: Session, actor: Principal, *, body: Mapping[str, Any]) -> Incident:
    """A person opens an incident (POST /incidents, `driftgate incidents open`)."""
    if body.get("model_version") is not None and not body.get("model_name"):
        raise InvalidIncident(
            "model_version needs model_name", field="model_version", rule="needs_model_name"
        )
    version = body.get("model_version")
    if version is not None and not 1 <= version <= INT32_MAX:
        raise InvalidIncident(
            f"model_version is 1 to {INT32_MAX}", field="model_version", rule="range"
        )
    datasets = [str(d).strip() for d in body.get("datasets") or []]
    if any(not d or len(d) > 500 for d in datasets):
        raise InvalidIncident(
            "a dataset id has 1 to 500 characters", field="datasets", rule="length_1_500"
        )
    if len(body.get("summary") or "") > 10_000:
        raise InvalidIncident(
            "a summary has at most 10000 characters", field="summary", rule="length_0_10000"
        )
    model_name = body.get("model_name")
    if model_name is not None and not 1 <= len(model_name.strip()) <= 100:
        raise InvalidIncident(
            "a model name has 1 to 100 characters", field="model_name", rule="length_1_100"
        )
    return open_incident(
        session,
        actor,
        title=body["title"],
        severity=body["severity"],
        source="manual",
        datasets=datasets,
        model_name=model_name.strip() if model_name is not None else None,
        model_version=body.get("model_version"),
        commander=_check_commander(body.get("commander")),
        summary=body.get("summary"),
    )


def _check_commander(commander: str | None) -> str | None:
    """A commander's name, trimmed (blank is nobody); at most 200 characters like its column."""
    commander = (commander or "").strip() or None
    if commander is not None and len(commander) > 200:
        raise InvalidIncident(
            "a commander has at most 200 characters", field="commander", rule="length_0_200"
        )
    return commander


def record_event(
    session: Session,
    incident_id: uuid.UUID,
    *,
    kind: str,
    actor: str,
    summary: str,
    at: datetime | None = None,
    details: Mapping[str, Any] | None = None,
    source_key: str | None = None,
    audited: bool = True,
) -> IncidentEvent | None:
    """Add one timeline entry (audited); None when `source_key` already landed on it."""
    _check_choice(kind, TIMELINE_KINDS, "kind")
    now = utcnow()
    event_id = repository.insert_event(
        session,
        {
            "incident_id": incident_id,
            "at": at or now,
            "kind": kind,
            "actor": actor[:200],
            "summary": summary,
            "details": jsonsafe(dict(details or {})),
            "source_key": source_key[:300] if source_key else None,
            "recorded_at": now,
        },
    )
    if event_id is None:
        return None
    if audited:
        audit.record(
            session,
            actor=actor,
            action="incident.timeline",
            object_type=OBJECT_TYPE,
            object_id=str(incident_id),
            after={"kind": kind, "summary": summary[:500], "source_key": source_key},
        )
    return repository.get_event(session, event_id)


def get_incident(session: Session, incident_id: uuid.UUID, *, for_update: bool = False) -> Incident:
    incident = repository.get_incident(session, incident_id, for_update=for_update)
    if incident is None:
        raise IncidentNotFound(f"no incident {incident_id}", field="incident_id", rule="exists")
    return incident


def timeline(session: Session, incident_id: uuid.UUID) -> list[IncidentEvent]:
    """The incident's timeline, ordered by time then by id."""
    get_incident(session, incident_id)
    return repository.events_of(session, incident_id)


def list_incidents(
    session: Session,
    *,
    status: str | None = None,
    severity: str | None = None,
    source: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[int, list[Incident]]:
    """(total, newest first page) of incidents, optionally of one status, severity, source."""
    if status is not None:
        _check_choice(status, STATUSES, "status")
    if severity is not None:
        _check_choice(severity, SEVERITIES, "severity")
    return repository.list_incidents(
        session, status=status, severity=severity, source=source, limit=limit, offset=offset
    )


def change_status(
    session: Session, actor: Principal, incident_id: uuid.UUID, *, status: str, reason: str | None
) -> Incident:
    """Move the lifecycle one step (audited, on the timeline); 409 for a move it forbids."""
    _check_choice(status, STATUSES, "status")
    incident = get_incident(session, incident_id, for_update=True)
    before = incident.status
    if status not in TRANSITIONS[before]:
        why = (
            "a closed incident is final: open a new one"
            if before == "closed"
            else f"the incident is already {status}"
            if status == before
            else f"{before} cannot move to {status}"
        )
        raise IllegalTransition(
            why,
            field="status",
            rule="closed_is_final" if before == "closed" else "allowed_transition",
            extra={"from": before, "to": status, "allowed": list(TRANSITIONS[before])},
        )
    now = utcnow()
    incident.status, incident.updated_at = status, now
    if status == "stable":
        incident.stable_at, incident.stable_by = now, actor.name
    elif status == "closed":
        incident.closed_at, incident.closed_by = now, actor.name
        if incident.stable_at is None:
            incident.stable_at, incident.stable_by = now, actor.name
    session.flush()
    audit.record(
        session,
        actor=actor.name,
        action="incident.status",
        object_type=OBJECT_TYPE,
        object_id=str(incident.id),
        before={"status": before},
        after={"status": status},
        reason=reason,
    )
    record_event(
        session,
        incident.id,
        kind="status_change",
        actor=actor.name,
        summary=f"{before} → {status}" + (f": {reason}" if reason else ""),
        at=now,
        details={"from": before, "to": status, "reason": reason},
        audited=False,
    )
    return incident


def update_incident(
    session: Session,
    actor: Principal,
    incident_id: uuid.UUID,
    *,
    changes: Mapping[str, Any],
    reason: str | None = None,
) -> Incident:
    """Edit title, severity or commander (each audited and on the timeline), then the status."""
    incident = get_incident(session, incident_id, for_update=True)
    edits = {k: v for k, v in changes.items() if k in EDITABLE}
    if edits and incident.status == "closed":
        raise IllegalTransition(
            "a closed incident is final: its title, severity and commander no longer change",
            field=next(iter(edits)),
            rule="closed_is_final",
        )
    for key, value in edits.items():
        _edit(session, actor, incident, key, value, reason)
    if changes.get("status") is not None:
        change_status(session, actor, incident.id, status=changes["status"], reason=reason)
    return incident


_EDIT_KINDS = {"title": "note", "severity": "severity_change", "commander": "commander_change"}


def _edit(
    session: Session,
    actor: Principal,
    incident: Incident,
    key: str,
    value: Any,
    reason: str | None,
) -> None:
    if value is None and key != "commander":
        raise InvalidIncident(f"{key} cannot be null", field=key, rule="not_null")
    if key == "severity":
        _check_choice(value, SEVERITIES, "severity")
    if key == "title":
        value = _check_title(value)
    if key == "commander":
        value = _check_commander(value)
    before = getattr(incident, key)
    if before == value:
        return
    setattr(incident, key, value)
    incident.updated_at = utcnow()
    session.flush()
    audit.record(
        session,
        actor=actor.name,
        action=f"incident.{key}",
        object_type=OBJECT_TYPE,
        object_id=str(incident.id),
        before={key: before},
        after={key: value},
        reason=reason,
    )
    record_event(
        session,
        incident.id,
        kind=_EDIT_KINDS[key],
        actor=actor.name,
        summary=f"{key}: {before or '—'} → {value or '—'}" + (f" ({reason})" if reason else ""),
        details={"field": key, "from": before, "to": value, "reason": reason},
        audited=False,
    )


def add_note(
    session: Session, actor: Principal, incident_id: uuid.UUID, *, note: str
) -> IncidentEvent:
    """A person's note on the timeline (audited); allowed after closing, for the postmortem."""
    text = note.strip()
    if not text or len(text) > 10_000:
        raise InvalidIncident("a note has 1 to 10000 characters", field="note", rule="length")
    get_incident(session, incident_id)
    event = record_event(session, incident_id, kind="note", actor=actor.name, summary=text)
    assert event is not None  # no source_key: never a duplicate
    return event


def attach(
    incident: Incident,
    *,
    datasets: Iterable[str] = (),
    affected: Mapping[str, Iterable[Any]] | None = None,
    first_bad_at: datetime | None = None,
) -> None:
    """Merge what a joining signal touches into the incident (its timeline entry is audited)."""
    merged = sorted(set(incident.datasets) | set(datasets))
    if merged != incident.datasets:
        incident.datasets = merged
    current = dict(incident.affected or {})
    changed = False
    for key, values in (affected or {}).items():
        old = list(current.get(key, []))
        new = old + [v for v in jsonsafe(list(values)) if v not in old]
        if new != old:
            current[key], changed = new, True
    if changed:
        incident.affected = current
    if first_bad_at is not None and (
        incident.first_bad_at is None or first_bad_at < incident.first_bad_at
    ):
        incident.first_bad_at = first_bad_at
