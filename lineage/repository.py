"""Writes of the lineage store: one event becomes one SQL statement.

The statement is a chain of data-modifying CTEs: the raw event is inserted first, and every other
insert reads from it, so a redelivered event (same hash, `ON CONFLICT DO NOTHING`) writes nothing
at all. Every upsert is commutative (least/greatest of event times, the max of run states, facets
keyed by content), which is what makes delivery order irrelevant. Reads live in `queries.py`.

Several events are written in one pipeline: psycopg sends every statement of the group before
reading any result, so a group costs one round trip, not one per event. The statement goes to
psycopg as a `$n` query (a RawCursor), compiled once here: psycopg does not cache the conversion
of named placeholders for statements this long, and it prepares the statement server-side after a
few executions.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

import psycopg
from sqlalchemy import text
from sqlalchemy.dialects.postgresql import psycopg as pg_psycopg
from sqlalchemy.orm import Session

from lineage.extract import EventRows

_INGEST = text(
    """
WITH ev AS (
    INSERT INTO lineage_events (event_hash, kind, event_type, event_time, run_uuid, producer,
                                payload, received_at, received_by)
    VALUES (:hash, :kind, :event_type, :t, CAST(:run_uuid AS uuid), :producer,
            CAST(:payload AS jsonb), :received_at, :received_by)
    ON CONFLICT (event_hash) DO NOTHING
    RETURNING id
),
job AS (
    INSERT INTO lineage_jobs AS j (namespace, name, first_seen, last_seen)
    SELECT CAST(:job_ns AS text), CAST(:job_name AS text), :t, :t
    FROM ev WHERE CAST(:job_ns AS text) IS NOT NULL
    ON CONFLICT (namespace, name) DO UPDATE
        SET first_seen = least(j.first_seen, excluded.first_seen),
            last_seen = greatest(j.last_seen, excluded.last_seen)
    RETURNING id
),
run AS (
    INSERT INTO lineage_runs AS r (run_uuid, job_id, parent_run_uuid, state, state_rank,
                                   started_at, ended_at, first_seen, last_seen, links)
    SELECT (x->>'run_uuid')::uuid, job.id, (x->>'parent_run_uuid')::uuid, x->>'state',
           (x->>'state_rank')::smallint, (x->>'started_at')::timestamptz,
           (x->>'ended_at')::timestamptz, :t, :t, x->'links'
    FROM job, (SELECT CAST(:run AS jsonb) AS x) AS p
    WHERE p.x IS NOT NULL
    ON CONFLICT (run_uuid) DO UPDATE SET
        state = CASE WHEN (excluded.state_rank, coalesce(excluded.ended_at, '-infinity'),
                           excluded.state)
                        > (r.state_rank, coalesce(r.ended_at, '-infinity'), r.state)
                     THEN excluded.state ELSE r.state END,
        ended_at = CASE WHEN (excluded.state_rank, coalesce(excluded.ended_at, '-infinity'),
                              excluded.state)
                           > (r.state_rank, coalesce(r.ended_at, '-infinity'), r.state)
                        THEN excluded.ended_at ELSE r.ended_at END,
        state_rank = greatest(r.state_rank, excluded.state_rank),
        started_at = least(r.started_at, excluded.started_at),
        parent_run_uuid = least(r.parent_run_uuid, excluded.parent_run_uuid),
        first_seen = least(r.first_seen, excluded.first_seen),
        last_seen = greatest(r.last_seen, excluded.last_seen),
        links = r.links || excluded.links
    RETURNING id, job_id
),
ds AS (
    INSERT INTO lineage_datasets AS d (namespace, name, first_seen, last_seen)
    SELECT x.namespace, x.name, :t, :t
    FROM ev, jsonb_to_recordset(CAST(:datasets AS jsonb)) AS x(namespace text, name text)
    ORDER BY x.namespace, x.name
    ON CONFLICT (namespace, name) DO UPDATE
        SET first_seen = least(d.first_seen, excluded.first_seen),
            last_seen = greatest(d.last_seen, excluded.last_seen)
    RETURNING id, namespace, name
),
ver AS (
    INSERT INTO lineage_dataset_versions AS v (dataset_id, version, producer_run_uuid,
                                               produced_at, first_seen, links)
    SELECT ds.id, x.version, x.producer_run_uuid, x.produced_at, :t, coalesce(x.links, '{}')
    FROM jsonb_to_recordset(CAST(:versions AS jsonb))
         AS x(namespace text, name text, version text, producer_run_uuid uuid,
              produced_at timestamptz, links jsonb)
    JOIN ds ON ds.namespace = x.namespace AND ds.name = x.name
    ORDER BY ds.id, x.version
    ON CONFLICT (dataset_id, version) DO UPDATE SET
        producer_run_uuid = least(v.producer_run_uuid, excluded.producer_run_uuid),
        produced_at = least(v.produced_at, excluded.produced_at),
        first_seen = least(v.first_seen, excluded.first_seen),
        links = v.links || excluded.links
    RETURNING id, dataset_id, version
),
io AS (
    INSERT INTO lineage_run_io AS e (run_id, dataset_id, version_id, direction, seen_at)
    SELECT run.id, ds.id, ver.id, x.direction, :t
    FROM run
    CROSS JOIN jsonb_to_recordset(CAST(:io AS jsonb))
         AS x(namespace text, name text, version text, direction text)
    JOIN ds ON ds.namespace = x.namespace AND ds.name = x.name
    LEFT JOIN ver ON ver.dataset_id = ds.id AND ver.version = x.version
    ORDER BY ds.id, x.direction
    ON CONFLICT (run_id, direction, dataset_id, version_id) DO UPDATE
        SET seen_at = least(e.seen_at, excluded.seen_at)
    RETURNING id, dataset_id, version_id, direction
),
jio AS (
    INSERT INTO lineage_job_io (job_id, direction, dataset_id)
    SELECT job.id, x.direction, ds.id
    FROM job
    CROSS JOIN jsonb_to_recordset(CAST(:job_io AS jsonb))
         AS x(namespace text, name text, direction text)
    JOIN ds ON ds.namespace = x.namespace AND ds.name = x.name
    ON CONFLICT DO NOTHING
),
fac AS (
    INSERT INTO lineage_facets AS f (owner_kind, owner_id, name, content_hash, facet,
                                     first_seen, last_seen)
    SELECT x.owner_kind, o.owner_id, x.name, x.content_hash, x.facet, :t, :t
    FROM jsonb_to_recordset(CAST(:facets AS jsonb))
         AS x(owner_kind text, owner jsonb, name text, content_hash text, facet jsonb)
    JOIN LATERAL (
        SELECT job.id AS owner_id FROM job WHERE x.owner_kind = 'job'
        UNION ALL
        SELECT run.id FROM run WHERE x.owner_kind = 'run'
        UNION ALL
        SELECT ds.id FROM ds
        WHERE x.owner_kind = 'dataset'
          AND ds.namespace = x.owner->>0 AND ds.name = x.owner->>1
        UNION ALL
        SELECT ver.id FROM ver JOIN ds ON ds.id = ver.dataset_id
        WHERE x.owner_kind = 'version'
          AND ds.namespace = x.owner->>0 AND ds.name = x.owner->>1
          AND ver.version = x.owner->>2
        UNION ALL
        SELECT io.id FROM io JOIN ds ON ds.id = io.dataset_id
        LEFT JOIN ver ON ver.id = io.version_id
        WHERE x.owner_kind IN ('input', 'output')
          AND io.direction = x.owner->>3
          AND ds.namespace = x.owner->>0 AND ds.name = x.owner->>1
          AND ver.version IS NOT DISTINCT FROM x.owner->>2
    ) AS o ON true
    ORDER BY 1, 2, 3, 4
    ON CONFLICT (owner_kind, owner_id, name, content_hash) DO UPDATE
        SET first_seen = least(f.first_seen, excluded.first_seen),
            last_seen = greatest(f.last_seen, excluded.last_seen)
        WHERE f.first_seen > excluded.first_seen OR f.last_seen < excluded.last_seen
),
col AS (
    INSERT INTO lineage_column_edges AS c (out_dataset_id, out_field, in_dataset_id, in_field,
                                           detail, detail_hash, first_seen)
    SELECT o.id, x.out_field, i.id, x.in_field, x.detail, x.detail_hash, :t
    FROM jsonb_to_recordset(CAST(:edges AS jsonb))
         AS x(out_namespace text, out_name text, out_field text, in_namespace text,
              in_name text, in_field text, detail jsonb, detail_hash text)
    JOIN ds AS o ON o.namespace = x.out_namespace AND o.name = x.out_name
    JOIN ds AS i ON i.namespace = x.in_namespace AND i.name = x.in_name
    ORDER BY 1, 2, 3, 4, 6
    ON CONFLICT ON CONSTRAINT uq_lineage_column_edges_edge DO UPDATE
        SET first_seen = least(c.first_seen, excluded.first_seen)
        WHERE c.first_seen > excluded.first_seen
)
SELECT (SELECT id FROM ev) AS event_id,
       (SELECT id FROM job) AS job_id,
       (SELECT job_id FROM run) AS run_job_id
"""
)


@dataclass(frozen=True)
class Stored:
    event_id: int | None
    job_id: int | None
    run_job_id: int | None

    @property
    def duplicate(self) -> bool:
        return self.event_id is None


def statement_params(rows: EventRows) -> dict[str, Any]:
    """The statement's parameters that depend on the event alone (pure; no I/O)."""
    return {
        "hash": rows.event_hash,
        "kind": rows.kind,
        "event_type": rows.event_type,
        "t": rows.event_time,
        "run_uuid": rows.run_uuid,
        "producer": rows.producer,
        "payload": rows.canonical,
        "job_ns": rows.job[0] if rows.job else None,
        "job_name": rows.job[1] if rows.job else None,
        "run": json.dumps(rows.run) if rows.run else None,
        "datasets": json.dumps(rows.datasets),
        "versions": json.dumps(rows.versions),
        "io": json.dumps(rows.io),
        "job_io": json.dumps(rows.job_io),
        "facets": json.dumps(rows.facets, ensure_ascii=False),
        "edges": json.dumps(rows.column_edges, ensure_ascii=False),
    }


@dataclass(frozen=True)
class Received:
    """One event to store: its statement parameters, and who sent it."""

    params: dict[str, Any]
    received_by: str


@cache
def _ingest_sql() -> tuple[bytes, tuple[str, ...]]:
    compiled = _INGEST.compile(dialect=pg_psycopg.dialect(paramstyle="numeric_dollar"))
    assert compiled.positiontup is not None
    return str(compiled).encode(), tuple(compiled.positiontup)


def store_events(
    session: Session, events: Sequence[Received], *, received_at: datetime
) -> list[Stored]:
    """Write events in order, in the session's transaction; known event hashes write nothing.

    All statements go out in one pipeline. A failing statement aborts the transaction (the
    caller rolls back); no statement's effect is left half-applied.
    """
    if not events:
        return []
    sql, names = _ingest_sql()
    rows = [
        tuple(
            {**e.params, "received_at": received_at, "received_by": e.received_by}[n] for n in names
        )
        for e in events
    ]
    conn = session.connection().connection.driver_connection
    assert isinstance(conn, psycopg.Connection)
    cur = psycopg.RawCursor(conn)
    if len(rows) == 1:
        cur.execute(sql, rows[0], prepare=True)
    else:
        with conn.pipeline():
            cur.executemany(sql, rows, returning=True)
    stored = []
    for _ in rows:
        row = cur.fetchone()
        assert row is not None  # the statement always answers one row
        stored.append(Stored(*row))
        cur.nextset()
    return stored
