"""Incident rules on real PostgreSQL: lifecycle, idempotent signals, edits, audit rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from core.audit import verify_chain
from core.auth import Principal, Role
from incidents import service
from incidents.errors import IllegalTransition, IncidentNotFound, InvalidIncident
from tests.incidents.builders import audit_count

ONCALL = Principal(name="oncall-ann", role=Role.reviewer)
T0 = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)


def _open(db: Session, **changes: object) -> service.Incident:
    args: dict[str, object] = {
        "title": "impressions arrive without item ids",
        "severity": "critical",
        "source": "manual",
        "datasets": ["impressions"],
    }
    args.update(changes)
    return service.open_incident(db, ONCALL, **args)  # type: ignore[arg-type]


def test_opening_writes_the_record_an_opened_entry_and_an_audit_event(db: Session) -> None:
    incident = _open(db, source="batch_failures")
    assert incident.status == "active" and incident.opened_by == "oncall-ann"
    assert incident.runbook == "bad-batch-schema-break"  # from the source, via runbooks
    [entry] = service.timeline(db, incident.id)
    assert entry.kind == "opened" and entry.actor == "oncall-ann"
    assert audit_count(db, str(incident.id), "incident.open") == 1


def test_lifecycle_moves_active_stable_closed_and_closed_is_final(db: Session) -> None:
    incident = _open(db)
    service.change_status(db, ONCALL, incident.id, status="stable", reason="feed paused")
    assert incident.stable_at is not None and incident.stable_by == "oncall-ann"
    service.change_status(db, ONCALL, incident.id, status="active", reason="relapse")
    service.change_status(db, ONCALL, incident.id, status="closed", reason="fixed upstream")
    assert incident.closed_at is not None and incident.closed_by == "oncall-ann"
    with pytest.raises(IllegalTransition) as refused:
        service.change_status(db, ONCALL, incident.id, status="active", reason=None)
    assert refused.value.rule == "closed_is_final" and refused.value.status == 409
    with pytest.raises(IllegalTransition):
        service.update_incident(db, ONCALL, incident.id, changes={"severity": "minor"})
    kinds = [(e.kind, e.details.get("to")) for e in service.timeline(db, incident.id)]
    assert kinds == [
        ("opened", None),
        ("status_change", "stable"),
        ("status_change", "active"),
        ("status_change", "closed"),
    ]
    assert audit_count(db, str(incident.id), "incident.status") == 3


def test_moving_to_the_same_status_is_a_conflict(db: Session) -> None:
    incident = _open(db)
    with pytest.raises(IllegalTransition) as refused:
        service.change_status(db, ONCALL, incident.id, status="active", reason=None)
    assert refused.value.rule == "allowed_transition"


def test_a_signal_with_the_same_source_key_lands_once(db: Session) -> None:
    incident = _open(db)
    first = service.record_event(
        db,
        incident.id,
        kind="alert_firing",
        actor="monitor-runner",
        summary="fires",
        at=T0,
        details={"budget_remaining": 0.8},
        source_key="alert:1:firing",
    )
    again = service.record_event(
        db,
        incident.id,
        kind="alert_firing",
        actor="monitor-runner",
        summary="fires",
        at=T0 + timedelta(minutes=1),
        source_key="alert:1:firing",
    )
    assert first is not None and again is None
    entries = [e for e in service.timeline(db, incident.id) if e.kind == "alert_firing"]
    assert len(entries) == 1 and entries[0].details == {"budget_remaining": 0.8}
    assert audit_count(db, str(incident.id), "incident.timeline") == 1


def test_edits_are_audited_and_on_the_timeline_and_bad_values_name_the_field(db: Session) -> None:
    incident = _open(db)
    service.update_incident(
        db,
        ONCALL,
        incident.id,
        changes={"severity": "major", "commander": "bob", "title": "item ids missing"},
        reason="scoped down",
    )
    assert (incident.severity, incident.commander, incident.title) == (
        "major",
        "bob",
        "item ids missing",
    )
    kinds = [e.kind for e in service.timeline(db, incident.id)]
    assert kinds.count("severity_change") == 1 and kinds.count("commander_change") == 1
    for action in ("incident.severity", "incident.commander", "incident.title"):
        assert audit_count(db, str(incident.id), action) == 1
    with pytest.raises(InvalidIncident) as bad:
        service.update_incident(db, ONCALL, incident.id, changes={"severity": "sev0"})
    assert bad.value.field == "severity" and bad.value.status == 422
    with pytest.raises(InvalidIncident) as bad:
        _open(db, title="   ")
    assert bad.value.field == "title"
    assert verify_chain(db).intact


def test_notes_land_even_after_closing_and_unknown_ids_are_not_found(db: Session) -> None:
    incident = _open(db)
    service.change_status(db, ONCALL, incident.id, status="closed", reason=None)
    note = service.add_note(db, ONCALL, incident.id, note="root cause: a producer deploy")
    assert note.kind == "note" and note.actor == "oncall-ann"
    import uuid

    with pytest.raises(IncidentNotFound):
        service.get_incident(db, uuid.uuid4())
