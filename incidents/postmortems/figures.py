"""What a postmortem measures, gathered from the database: the incident and its timeline,
the affected batches (the ones it names, and every batch of its datasets from the first bad
data to the resolution) and the predictions of the affected model versions. The figures
themselves are computed by the pure `drafting` module.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from checks import repository as checks_repository
from core.clock import utcnow
from incidents.grouping import downstream_model_versions
from incidents.models import Incident
from incidents.postmortems import drafting
from incidents.postmortems import repository as repo
from ranker import repository as ranker_repository

BATCH_PAGE = 1000
MAX_DATASET_BATCHES = 100_000  # per dataset and incident window: more is not one incident


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
