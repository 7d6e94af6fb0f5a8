"""Lineage rules: accept OpenLineage events into the store, and answer graph questions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from core import audit
from core.auth import Principal
from core.clock import utcnow
from lineage import repository
from lineage.errors import InvalidLineageEvent
from lineage.extract import extract
from lineage.validate import validate_event


@dataclass(frozen=True)
class Ingested:
    kind: str
    event_hash: str
    run_id: str | None
    duplicate: bool


def ingest_event(
    session: Session, actor: Principal, *, document: Any, check_nul: bool = True
) -> Ingested:
    """Validate one OpenLineage event and merge it into the graph; redelivery changes nothing.

    The audit event is written last, so the audit chain's lock is held only for the commit.
    """
    kind = validate_event(document, check_nul=check_nul)
    rows = extract(document, kind)
    stored = repository.store_event(
        session, rows, payload=document, received_at=utcnow(), received_by=actor.name
    )
    if not stored.duplicate:
        if stored.run_job_id is not None and stored.run_job_id != stored.job_id:
            raise InvalidLineageEvent(
                f"run {rows.run_uuid} already belongs to another job; a run id names one run "
                "of one job",
                field="$.run.runId",
                rule="run_belongs_to_one_job",
            )
        audit.record(
            session,
            actor=actor.name,
            action="lineage.event.ingest",
            object_type=_object_type(kind),
            object_id=_object_id(rows),
            after={
                "kind": kind,
                "event_type": rows.event_type,
                "event_time": rows.event_time,
                "event_hash": rows.event_hash,
                "job": "/".join(rows.job) if rows.job else None,
                "inputs": sum(1 for e in rows.io if e["direction"] == "in"),
                "outputs": sum(1 for e in rows.io if e["direction"] == "out"),
            },
        )
    return Ingested(kind, rows.event_hash, rows.run_uuid, stored.duplicate)


def _object_type(kind: str) -> str:
    return {"RunEvent": "lineage_run", "JobEvent": "lineage_job"}.get(kind, "lineage_dataset")


def _object_id(rows: Any) -> str:
    if rows.run_uuid:
        return str(rows.run_uuid)
    if rows.job:
        return f"{rows.job[0]}:{rows.job[1]}"[:300]
    ds = rows.datasets[0]
    return f"{ds['namespace']}:{ds['name']}"[:300]
