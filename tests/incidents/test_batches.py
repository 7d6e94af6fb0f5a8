"""A burst of failing batches of one contract opens an incident; its timeline lists them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from core.settings import Settings
from incidents import intake, service
from tests.monitors.factory import batch_row, register

T0 = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)


def _quarantined(db: Session, at: datetime, share: float) -> object:
    b = batch_row(db, at, "quarantined")
    b.rows_received, b.rows_quarantined = 100, int(100 * share)
    b.rows_accepted = 100 - b.rows_quarantined
    db.flush()
    return b


def test_a_burst_opens_one_incident_and_the_first_bad_batch_starts_detection(
    db: Session, settings: Settings
) -> None:
    register(db)
    batch_row(db, T0, "passed")
    first = batch_row(db, T0 + timedelta(minutes=1), "rejected")
    _quarantined(db, T0 + timedelta(minutes=2), 0.05)  # light quarantine: not a failure
    _quarantined(db, T0 + timedelta(minutes=3), 0.6)
    db.flush()
    now = T0 + timedelta(minutes=4)
    assert intake.batch_failures(db, now=now, settings=settings) == []  # 2 < burst of 3
    batch_row(db, T0 + timedelta(minutes=5), "rejected")
    db.flush()
    [incident] = intake.batch_failures(db, now=now + timedelta(minutes=2), settings=settings)
    assert incident.source == "batch_failures" and incident.datasets == ["events"]
    assert incident.first_bad_at == first.received_at
    assert len(incident.affected["batches"]) == 3
    kinds = [e.kind for e in service.timeline(db, incident.id)]
    assert kinds == ["first_bad_batch", "batch_failed", "quarantine", "batch_failed", "opened"]
    # the next cycle adds nothing twice, and a new failure lands on the same incident
    intake.batch_failures(db, now=now + timedelta(minutes=3), settings=settings)
    batch_row(db, T0 + timedelta(minutes=8), "rejected")
    db.flush()
    [same] = intake.batch_failures(db, now=now + timedelta(minutes=5), settings=settings)
    assert same.id == incident.id
    kinds = [e.kind for e in service.timeline(db, incident.id)]
    assert kinds.count("batch_failed") == 3 and kinds.count("first_bad_batch") == 1


def test_failures_spread_wider_than_the_window_open_nothing(
    db: Session, settings: Settings
) -> None:
    register(db)
    gap = timedelta(minutes=settings.incident_batch_failure_window_minutes)
    for i in range(3):
        batch_row(db, T0 + i * gap, "rejected")
    db.flush()
    assert intake.batch_failures(db, now=T0 + 2 * gap, settings=settings) == []


def test_closing_an_incident_does_not_reopen_it_from_the_batches_it_recorded(
    db: Session, settings: Settings
) -> None:
    register(db)
    for m in (1, 2, 3):
        batch_row(db, T0 + timedelta(minutes=m), "rejected")
    db.flush()
    [first] = intake.batch_failures(db, now=T0 + timedelta(minutes=4), settings=settings)
    service.change_status(db, intake.MONITOR, first.id, status="closed", reason="fixed")
    # the same batches are still within the window: nothing new opens
    assert intake.batch_failures(db, now=T0 + timedelta(minutes=5), settings=settings) == []
    for m in (6, 7, 8):  # a new burst does
        batch_row(db, T0 + timedelta(minutes=m), "rejected")
    db.flush()
    [second] = intake.batch_failures(db, now=T0 + timedelta(minutes=9), settings=settings)
    assert second.id != first.id and len(second.affected["batches"]) == 3
