"""An incident's impact through lineage: what data, which model versions, how many
predictions, how much error budget.

- datasets and batches: what the incident names and the failing batches its timeline
  recorded (rows received, accepted, quarantined);
- model versions: every version downstream of its datasets in lineage (`grouping.reach_of`),
  plus the version it names; each says whether lineage shows it *trained* on one of the
  incident's batches (a version-level walk from the batches' dataset versions);
- predictions: how many each of those versions served between the first bad data (or the
  opening) and the closing (or now), read through `ranker.repository`;
- error budget: per SLO, `details.budget_remaining` at its first `alert_firing` minus the
  latest one its alerts recorded (firing or `alert_resolved`); never below 0.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from checks import repository as checks_repo
from core.clock import utcnow
from incidents import repository
from incidents.grouping import incident_reach, model_version_key, reach_of
from incidents.models import Incident
from lineage import naming
from lineage import repository as lineage_repo
from lineage.graph import MODEL_LINKS
from ranker import repository as ranker_repo

BATCHES_SHOWN = 50
BATCHES_WALKED = 200  # batches whose downstream versions are walked one by one
VERSIONS_COUNTED = 50  # model versions whose predictions are counted, newest first


def window_of(incident: Incident, now: datetime | None = None) -> tuple[datetime, datetime]:
    """From the first bad data (or the opening) to the closing (or now)."""
    start = min(t for t in (incident.first_bad_at, incident.opened_at) if t is not None)
    return start, incident.closed_at or now or utcnow()


def impact(
    session: Session, incident: Incident, *, namespace: str, now: datetime | None = None
) -> dict[str, Any]:
    start, end = window_of(incident, now)
    batch_ids = list((incident.affected or {}).get("batches", []))
    trained = _trained_on(session, batch_ids[:BATCHES_WALKED])
    reach = reach_of(
        session,
        namespace,
        datasets=incident.datasets,
        model_name=incident.model_name,
        model_version=incident.model_version,
    )
    named = reach.model_versions | incident_reach(incident).model_versions | trained
    # lineage takes events from any pipeline: a version that is not a number serves nothing
    versions = sorted(
        (k for k in named if k.rpartition(":")[2].isdigit()), key=_version_order, reverse=True
    )
    rows = []
    for key in versions[:VERSIONS_COUNTED]:
        name, _, version = key.rpartition(":")
        served = ranker_repo.label_facts(session, name, int(version), start, end).predictions
        rows.append(
            {
                "model_name": name,
                "version": int(version),
                "trained_on_affected_batches": key in trained,
                "predictions": int(served or 0),
            }
        )
    return {
        "window": {"start": start, "end": end, "open": incident.closed_at is None},
        "datasets": sorted(reach.datasets),
        "batches": _batches(session, batch_ids),
        "model_versions": rows,
        "predictions_served": sum(r["predictions"] for r in rows),
        "error_budget": error_budget(session, incident.id),
    }


def _version_order(key: str) -> tuple[str, int]:
    name, _, version = key.rpartition(":")
    return name, int(version) if version.isdigit() else -1


def _trained_on(session: Session, batch_ids: list[str]) -> set[str]:
    """Model versions lineage derives from these batches' dataset versions."""
    roots: list[int] = []
    for batch_id in batch_ids:
        roots += lineage_repo.versions_linked(session, {naming.BATCH_ID: batch_id}, limit=10)
    if not roots:
        return set()
    walked = lineage_repo.walk_impact(session, roots, 10)
    found = set()
    for v in lineage_repo.versions_by_id(session, [r.version_id for r in walked]):
        links = v.links or {}
        if any(k in links for k in MODEL_LINKS) and naming.MODEL_NAME in links:
            found.add(model_version_key(links[naming.MODEL_NAME], links[naming.MODEL_VERSION]))
    return {k for k in found if k.rpartition(":")[2].isdigit()}


def _batches(session: Session, batch_ids: list[str]) -> dict[str, Any]:
    ids = []
    for raw in batch_ids:
        try:
            ids.append(uuid.UUID(str(raw)))
        except ValueError:
            continue
    found = sorted(checks_repo.batches_by_id(session, ids), key=lambda b: b.received_at)
    by_status: dict[str, int] = {}
    for b in found:
        by_status[b.status] = by_status.get(b.status, 0) + 1
    return {
        "count": len(found),
        "rows_received": sum(b.rows_received for b in found),
        "rows_accepted": sum(b.rows_accepted for b in found),
        "rows_quarantined": sum(b.rows_quarantined for b in found),
        "by_status": by_status,
        "items": [
            {
                "batch_id": str(b.id),
                "contract_id": b.contract_id,
                "status": b.status,
                "received_at": b.received_at,
                "rows_received": b.rows_received,
                "rows_quarantined": b.rows_quarantined,
            }
            for b in found[:BATCHES_SHOWN]
        ],
    }


def error_budget(session: Session, incident_id: uuid.UUID) -> dict[str, Any]:
    """Per SLO: the budget left at its first firing and the latest known (its last firing or
    resolution), and what went between them; `firing` while one of its alerts still fires."""
    per_slo: dict[str, dict[str, Any]] = {}
    open_alerts: dict[str, set[str]] = {}
    for e in repository.events_of(session, incident_id, ("alert_firing", "alert_resolved")):
        d = e.details or {}
        slo = d.get("slo_id")
        if not slo:
            continue
        row = per_slo.setdefault(slo, {"slo_id": slo, "at_firing": None, "latest": None})
        alerts = open_alerts.setdefault(slo, set())
        budget = d.get("budget_remaining")
        if e.kind == "alert_firing":
            alerts.add(str(d.get("alert_id")))
            if row["at_firing"] is None:
                row["at_firing"] = budget
        else:
            alerts.discard(str(d.get("alert_id")))
        if budget is not None:
            row["latest"] = budget
    slos = []
    for slo, row in per_slo.items():
        a, b = row["at_firing"], row["latest"]
        known = isinstance(a, int | float) and isinstance(b, int | float)
        slos.append(
            {
                **row,
                "firing": bool(open_alerts[slo]),
                "consumed": max(a - b, 0.0) if known else None,
            }
        )
    consumed = [s["consumed"] for s in slos if s["consumed"] is not None]
    return {"consumed": sum(consumed) if consumed else None, "slos": slos}
