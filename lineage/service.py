"""Lineage rules: accept OpenLineage events into the store, and answer graph questions.

Ingest is split in two so a writer can commit many events together:

- `prepare_event` is pure (validate, extract, build the statement's parameters) and raises the
  4xx errors; it runs before anything is queued or written;
- `store_events` writes prepared events, in order, in the caller's transaction, and appends
  one audit event per accepted event with one acquisition of the audit chain's lock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from core import audit
from core.auth import Principal, Role, hash_token
from core.clock import utcnow
from lineage import ingest_repository
from lineage.errors import InvalidLineageEvent, ReservedNamespace
from lineage.extract import EventRows, extract
from lineage.lenient import lenient_paths
from lineage.validate import validate_event


@dataclass(frozen=True)
class Ingested:
    kind: str
    event_hash: str
    run_id: str | None
    duplicate: bool


@dataclass(frozen=True)
class PreparedEvent:
    """A valid event, turned into the rows and the statement parameters it implies."""

    kind: str
    rows: EventRows
    event_json: str  # its part of the store's statement (`ingest_repository.event_json`)
    # What the spec requires and the event leaves out, accepted as Marquez does (`lenient`).
    lenient: tuple[str, ...] = ()


def prepare_event(
    document: Any, *, check_nul: bool = True, reserved_namespace: str | None = None
) -> PreparedEvent:
    """Validate one OpenLineage event and compute what it writes; no I/O.

    `reserved_namespace` is driftgate's own namespace when the event comes from outside (the
    ingest route): an event for a job there is refused (`refuse_reserved`).
    """
    kind = validate_event(document, check_nul=check_nul)
    rows = extract(document, kind)
    if reserved_namespace is not None:
        refuse_reserved(document, rows, reserved_namespace)
    return PreparedEvent(
        kind, rows, ingest_repository.event_json(rows), lenient_paths(document, kind)
    )


def refuse_reserved(document: Any, rows: EventRows, namespace: str) -> None:
    """Refuse an outside event that would write driftgate's own jobs, runs or datasets.

    driftgate's jobs and runs (batch checks, training, promotion) are evidence: a forged
    COMPLETE event with a rewritten `batchCheck` facet once made a 30%-quarantined batch look
    clean. Its datasets are evidence too: monitors read which model version is champion from
    the newest version of `models/<name>#champion`. Only driftgate writes them, in-process
    (`store_events`); an outside event for one of their run ids under another namespace is
    already refused (`run_belongs_to_one_job`). Outside jobs may still *read* driftgate's
    datasets: an input named by namespace and name (run-specific `inputFacets` included).
    """
    if rows.job is not None and rows.job[0] == namespace:
        _reserved(
            f"jobs in the namespace {namespace!r} are driftgate's own and are recorded only "
            "by driftgate; post your job under your own namespace",
            "$.job.namespace",
        )
    if rows.kind == "DatasetEvent" and document["dataset"]["namespace"] == namespace:
        _reserved(
            f"datasets in the namespace {namespace!r} are described only by driftgate",
            "$.dataset.namespace",
        )
    for i, output in enumerate(document.get("outputs") or []):
        if output.get("namespace") == namespace:
            _reserved(
                f"outside jobs may read datasets in the namespace {namespace!r}, not write "
                "them; name your output under your own namespace",
                f"$.outputs[{i}].namespace",
            )
    for i, input_ in enumerate(document.get("inputs") or []):
        if input_.get("namespace") == namespace and input_.get("facets"):
            _reserved(
                f"a dataset in the namespace {namespace!r} is described (schema, versions) only "
                "by driftgate: reference it by namespace and name; per-run `inputFacets` are fine",
                f"$.inputs[{i}].facets",
            )
    # A symlink makes its target the same graph node as the dataset declaring it
    # (`lineage.symlinks`): one into driftgate's namespace would take over driftgate's node.
    datasets = [("dataset", document.get("dataset"))] if rows.kind == "DatasetEvent" else []
    for key in ("inputs", "outputs"):
        datasets += [(f"{key}[{i}]", d) for i, d in enumerate(document.get(key) or [])]
    for where, dataset in datasets:
        link = ((dataset or {}).get("facets") or {}).get("symlinks") or {}
        for j, target in enumerate(link.get("identifiers") or []):
            if isinstance(target, dict) and target.get("namespace") == namespace:
                _reserved(
                    f"a symlink may not name a dataset in the namespace {namespace!r}: it would "
                    "merge your dataset into driftgate's own",
                    f"$.{where}.facets.symlinks.identifiers[{j}].namespace",
                )


def _reserved(detail: str, field: str) -> None:
    raise ReservedNamespace(detail, field=field, rule="reserved_namespace")


def ingest_event(
    session: Session, actor: Principal, *, document: Any, check_nul: bool = True
) -> Ingested:
    """Validate one OpenLineage event and merge it into the graph; redelivery changes nothing."""
    return store_events(session, [(actor, prepare_event(document, check_nul=check_nul))])[0]


def store_events(
    session: Session, events: Sequence[tuple[Principal, PreparedEvent]]
) -> list[Ingested]:
    """Merge prepared events into the graph, in order, and audit each one that was new.

    Raises InvalidLineageEvent when an event's run id already belongs to another job; its
    statement has written by then, so the caller must roll the transaction back. The audit
    chain's lock is asked for right after the statement and the audit events are written
    last, so the lock is held for the audit rows and the commit, never during the statement.
    """
    received = [ingest_repository.Received(e.event_json, received_by=a.name) for a, e in events]
    results = _store(session, received, [e for _, e in events], roles=())
    return [r for r in results if r is not None]


def store_events_for_tokens(
    session: Session, events: Sequence[tuple[str, PreparedEvent]], *, roles: Sequence[Role]
) -> list[Ingested | None]:
    """`store_events` for events that arrived with bearer tokens, checked by the statement
    that writes them: an event whose token is unknown, revoked or has none of `roles` writes
    nothing and comes back as None (ask `core.auth` why)."""
    received = [
        ingest_repository.Received(e.event_json, token_hash=hash_token(token))
        for token, e in events
    ]
    return _store(session, received, [e for _, e in events], roles=[r.value for r in roles])


def _store(
    session: Session,
    received: list[ingest_repository.Received],
    events: list[PreparedEvent],
    *,
    roles: Sequence[str],
) -> list[Ingested | None]:
    if not received:
        return []
    # One round trip: the statement, then the audit chain's lock and the read of its head. The
    # lock waits behind the statement, so it is held only from here to the commit.
    with ingest_repository.pipeline(session):
        pending = ingest_repository.queue_store_events(
            session, received, received_at=utcnow(), roles=roles
        )
        chain = audit.lock_chain(session)
    stored = pending.rows()
    entries = []
    results: list[Ingested | None] = []
    for event, row in zip(events, stored, strict=True):
        rows = event.rows
        if row.actor is None:
            results.append(None)
            continue
        if not row.duplicate:
            if row.run_job_id is not None and row.run_job_id != row.job_id:
                raise InvalidLineageEvent(
                    f"run {rows.run_uuid} already belongs to another job; a run id names one "
                    "run of one job",
                    field="$.run.runId",
                    rule="run_belongs_to_one_job",
                )
            entries.append(_audit_entry(row.actor, event))
        results.append(Ingested(event.kind, rows.event_hash, rows.run_uuid, row.duplicate))
    audit.append_locked(session, chain, entries)
    return results


def _audit_entry(actor: str, event: PreparedEvent) -> audit.AuditEntry:
    rows = event.rows
    return audit.AuditEntry(
        actor=actor,
        action="lineage.event.ingest",
        object_type=_object_type(event.kind),
        object_id=_object_id(rows),
        after={
            "kind": event.kind,
            "event_type": rows.event_type,
            "event_time": rows.event_time,
            "event_hash": rows.event_hash,
            "job": "/".join(rows.job) if rows.job else None,
            "inputs": sum(1 for e in rows.io if e["direction"] == "in"),
            "outputs": sum(1 for e in rows.io if e["direction"] == "out"),
            **({"lenient": list(event.lenient)} if event.lenient else {}),
        },
    )


def _object_type(kind: str) -> str:
    return {"RunEvent": "lineage_run", "JobEvent": "lineage_job"}.get(kind, "lineage_dataset")


def _object_id(rows: EventRows) -> str:
    if rows.run_uuid:
        return str(rows.run_uuid)
    if rows.job:
        return f"{rows.job[0]}:{rows.job[1]}"[:300]
    ds = rows.datasets[0]
    return f"{ds['namespace']}:{ds['name']}"[:300]
