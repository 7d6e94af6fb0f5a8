"""Failing batches on incidents: a burst of one contract's failing batches (rejected, or
quarantine-heavy) opens an incident (major) or joins one by lineage; every failing batch of a
contract with an open incident lands as `batch_failed` or `quarantine`, and the earliest known
sets `first_bad_at` with a `first_bad_batch` entry.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from checks import repository as checks_repo
from core.auth import Principal
from core.settings import Settings
from incidents import repository, service
from incidents.grouping import find_group, reach_of
from incidents.intake.joining import MONITOR, group_window, join
from incidents.models import Incident
from incidents.runbooks import runbook_for_source

BURST_SEVERITY = "major"
MAX_LISTED = 1000  # batch ids an incident lists in `affected.batches`


def _failing_batches(session: Session, since: datetime, now: datetime, rate: float) -> list[Any]:
    rejected = checks_repo.list_batches(
        session, contract_id=None, status="rejected", since=since, limit=MAX_LISTED, offset=0
    )
    quarantined = checks_repo.list_batches(
        session, contract_id=None, status="quarantined", since=since, limit=MAX_LISTED, offset=0
    )
    heavy = [
        b for b in quarantined if b.rows_received and b.rows_quarantined / b.rows_received >= rate
    ]
    return sorted(
        (b for b in rejected + heavy if b.received_at <= now), key=lambda b: b.received_at
    )


def batch_failures(
    session: Session, *, now: datetime, settings: Settings, actor: Principal = MONITOR
) -> list[Incident]:
    """Evaluate failing batches of the last window; returns the incidents that got entries."""
    window = timedelta(minutes=settings.incident_batch_failure_window_minutes)
    by_contract: dict[str, list[Any]] = defaultdict(list)
    for batch in _failing_batches(
        session, now - window, now, settings.incident_batch_quarantine_rate
    ):
        by_contract[batch.contract_id].append(batch)
    touched = []
    for contract_id, bad in sorted(by_contract.items()):
        existing = repository.not_closed_on(session, contract_id)
        if not existing:
            # a batch an incident already recorded (one closed meanwhile) never counts again
            seen = repository.recorded_sources(session, [f"batch:{b.id}" for b in bad])
            bad = [b for b in bad if f"batch:{b.id}" not in seen]
        incident = (
            existing[0]
            if existing
            else _burst_incident(session, contract_id, bad, now, settings, actor)
        )
        if incident is not None:
            _record_batches(session, incident, bad, actor)
            touched.append(incident)
    return touched


def _burst_incident(
    session: Session,
    contract_id: str,
    bad: list[Any],
    now: datetime,
    settings: Settings,
    actor: Principal,
) -> Incident | None:
    """For a burst, the incident it groups into by lineage, or a new one; else None."""
    if not bad or len(bad) < settings.incident_batch_failure_burst:
        return None
    reach = reach_of(session, settings.lineage_namespace, datasets=[contract_id])
    affected = {"batches": [str(b.id) for b in bad]}
    group = find_group(session, reach, now=now, window=group_window(settings))
    if group is not None:
        join(
            session,
            group,
            reach,
            actor=actor,
            at=bad[-1].received_at,
            key=f"batches:{contract_id}:{bad[0].id}",
            what=f"{len(bad)} failing batches of {contract_id}",
            affected=affected,
            runbook=runbook_for_source("batch_failures", {}),
        )
        return group
    minutes = settings.incident_batch_failure_window_minutes
    return service.open_incident(
        session,
        actor,
        title=f"{len(bad)} failing batches of {contract_id} within {minutes:g} minutes",
        severity=BURST_SEVERITY,
        source="batch_failures",
        datasets=reach.datasets,
        affected={**affected, "model_versions": sorted(reach.model_versions)},
        details={
            "contract_id": contract_id,
            "failing_batches": len(bad),
            "statuses": sorted({b.status for b in bad}),
            "window_minutes": minutes,
            "threshold": settings.incident_batch_failure_burst,
        },
        first_bad_at=bad[0].received_at,
        at=now,
    )


def _record_batches(session: Session, incident: Incident, bad: list[Any], actor: Principal) -> None:
    listed = set(incident.affected.get("batches", []))
    new_ids = [str(b.id) for b in bad if str(b.id) not in listed]
    if new_ids and len(listed) < MAX_LISTED:
        service.attach(incident, affected={"batches": new_ids[: MAX_LISTED - len(listed)]})
    first = bad[0]
    if incident.first_bad_at is None or first.received_at < incident.first_bad_at:
        incident.first_bad_at = first.received_at
    session.flush()
    if incident.first_bad_at == first.received_at:
        service.record_event(
            session,
            incident.id,
            kind="first_bad_batch",
            actor=actor.name,
            summary=f"first bad batch {first.id} of {first.contract_id} ({first.status})",
            at=first.received_at,
            details=_batch_details(first),
            source_key=f"first_bad_batch:{first.id}",
        )
    for b in bad:
        service.record_event(
            session,
            incident.id,
            kind="batch_failed" if b.status == "rejected" else "quarantine",
            actor=actor.name,
            summary=(
                f"batch {b.id} of {b.contract_id} rejected"
                if b.status == "rejected"
                else f"batch {b.id} of {b.contract_id}: {b.rows_quarantined} of "
                f"{b.rows_received} rows quarantined"
            ),
            at=b.received_at,
            details=_batch_details(b),
            source_key=f"batch:{b.id}",
        )


def _batch_details(b: Any) -> dict[str, Any]:
    return {
        "batch_id": str(b.id),
        "contract_id": b.contract_id,
        "contract_version": b.contract_version,
        "status": b.status,
        "rows_received": b.rows_received,
        "rows_accepted": b.rows_accepted,
        "rows_quarantined": b.rows_quarantined,
        "received_at": b.received_at,
    }
