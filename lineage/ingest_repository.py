"""Writes of the lineage store: a group of events becomes one SQL statement.

The statement is a chain of data-modifying CTEs. The raw events are inserted first, and every
other insert reads only the rows of the events that were new, so a redelivered event (same
hash, `ON CONFLICT DO NOTHING`) writes nothing at all. Every upsert is commutative (least/greatest
of event times, the max of run states, facets keyed by content), which is what makes delivery
order irrelevant. Rows of several events that name the same thing (two runs reading one
dataset) are merged with the same rules before the upsert, because one INSERT may touch a row
only once; the result equals writing the events one by one. Each table is written in key order,
so concurrent statements lock rows in the same order and cannot deadlock each other.

One statement per group, not per event: PostgreSQL starts one executor and parses one JSON
parameter for the whole group. Each event's part of that parameter is built when the event is
prepared (`event_json`), reusing the canonical JSON already computed for the hashes. Reads live
in `repository.py`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

import psycopg
from sqlalchemy import Connection, text
from sqlalchemy.dialects.postgresql import psycopg as pg_psycopg
from sqlalchemy.orm import Session

from lineage.extract import EventRows

_INGEST = text(
    """
WITH input AS MATERIALIZED (
    SELECT x.e, x.item->'ev' AS ev, coalesce(x.item->>'by', p.name) AS received_by
    FROM jsonb_array_elements(CAST(:events AS jsonb)) WITH ORDINALITY AS x(item, e)
    LEFT JOIN api_tokens AS t
           ON t.token_hash = x.item->>'tok' AND t.revoked_at IS NULL
          AND t.role = ANY(CAST(:roles AS text[]))
    LEFT JOIN principals AS p ON p.id = t.principal_id  -- the actor is the token's principal
),
ev AS (
    INSERT INTO lineage_events (event_hash, kind, event_type, event_time, run_uuid, producer,
                                payload, received_at, received_by)
    SELECT i.ev->>'hash', i.ev->>'kind', i.ev->>'event_type', (i.ev->>'t')::timestamptz,
           (i.ev->>'run_uuid')::uuid, i.ev->>'producer', i.ev->'payload', :received_at,
           i.received_by
    FROM input AS i
    WHERE i.received_by IS NOT NULL
    ORDER BY i.ev->>'hash', i.e
    ON CONFLICT (event_hash) DO NOTHING
    RETURNING id, event_hash
),
new AS MATERIALIZED (  -- the new events; a repeat within the group is a duplicate
    SELECT DISTINCT ON (ev.event_hash) i.e, i.ev, ev.id, (i.ev->>'t')::timestamptz AS t
    FROM input AS i JOIN ev ON ev.event_hash = i.ev->>'hash'
    WHERE i.received_by IS NOT NULL
    ORDER BY ev.event_hash, i.e
),
job AS (
    INSERT INTO lineage_jobs AS j (namespace, name, first_seen, last_seen)
    SELECT n.ev->>'job_ns', n.ev->>'job_name', min(n.t), max(n.t)
    FROM new AS n
    WHERE n.ev->>'job_ns' IS NOT NULL
    GROUP BY 1, 2
    ORDER BY 1, 2
    ON CONFLICT (namespace, name) DO UPDATE
        SET first_seen = least(j.first_seen, excluded.first_seen),
            last_seen = greatest(j.last_seen, excluded.last_seen)
    RETURNING id, namespace, name
),
run_rows AS MATERIALIZED (
    SELECT n.e, n.t, n.ev->>'job_ns' AS job_ns, n.ev->>'job_name' AS job_name, x.*
    FROM new AS n,
         jsonb_to_recordset(n.ev->'runs')
         AS x(run_uuid uuid, parent_run_uuid uuid, state text, state_rank smallint,
              started_at timestamptz, ended_at timestamptz, links jsonb)
),
run_links AS (
    SELECT x.run_uuid, jsonb_object_agg(l.key, l.value ORDER BY x.e) AS links
    FROM run_rows AS x, jsonb_each(x.links) AS l
    GROUP BY 1
),
run_merged AS (
    SELECT x.run_uuid,
           (array_agg(x.job_ns ORDER BY x.e))[1] AS job_ns,
           (array_agg(x.job_name ORDER BY x.e))[1] AS job_name,
           min(x.parent_run_uuid::text)::uuid AS parent_run_uuid,
           (array_agg(x.state ORDER BY x.state_rank DESC,
                      coalesce(x.ended_at, '-infinity') DESC, x.state DESC))[1] AS state,
           max(x.state_rank) AS state_rank,
           min(x.started_at) AS started_at,
           (array_agg(x.ended_at ORDER BY x.state_rank DESC,
                      coalesce(x.ended_at, '-infinity') DESC, x.state DESC))[1] AS ended_at,
           min(x.t) AS first_seen,
           max(x.t) AS last_seen
    FROM run_rows AS x
    GROUP BY 1
),
run AS (
    INSERT INTO lineage_runs AS r (run_uuid, job_id, parent_run_uuid, state, state_rank,
                                   started_at, ended_at, first_seen, last_seen, links)
    SELECT m.run_uuid, job.id, m.parent_run_uuid, m.state, m.state_rank, m.started_at,
           m.ended_at, m.first_seen, m.last_seen, coalesce(l.links, '{}')
    FROM run_merged AS m
    JOIN job ON job.namespace = m.job_ns AND job.name = m.job_name
    LEFT JOIN run_links AS l ON l.run_uuid = m.run_uuid
    ORDER BY m.run_uuid
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
    RETURNING id, run_uuid, job_id
),
ds AS (
    INSERT INTO lineage_datasets AS d (namespace, name, first_seen, last_seen)
    SELECT x.namespace, x.name, min(n.t), max(n.t)
    FROM new AS n, jsonb_to_recordset(n.ev->'datasets') AS x(namespace text, name text)
    GROUP BY 1, 2
    ORDER BY 1, 2
    ON CONFLICT (namespace, name) DO UPDATE
        SET first_seen = least(d.first_seen, excluded.first_seen),
            last_seen = greatest(d.last_seen, excluded.last_seen)
    RETURNING id, namespace, name
),
ver_rows AS MATERIALIZED (
    SELECT n.e, n.t, x.*
    FROM new AS n,
         jsonb_to_recordset(n.ev->'versions')
         AS x(namespace text, name text, version text, producer_run_uuid uuid,
              produced_at timestamptz, links jsonb)
),
ver_links AS (
    SELECT x.namespace, x.name, x.version, jsonb_object_agg(l.key, l.value ORDER BY x.e) AS links
    FROM ver_rows AS x, jsonb_each(x.links) AS l
    GROUP BY 1, 2, 3
),
ver AS (
    INSERT INTO lineage_dataset_versions AS v (dataset_id, version, producer_run_uuid,
                                               produced_at, first_seen, links)
    SELECT ds.id, m.version, m.producer_run_uuid, m.produced_at, m.first_seen,
           coalesce(l.links, '{}')
    FROM (
        SELECT x.namespace, x.name, x.version,
               min(x.producer_run_uuid::text)::uuid AS producer_run_uuid,
               min(x.produced_at) AS produced_at, min(x.t) AS first_seen
        FROM ver_rows AS x
        GROUP BY 1, 2, 3
    ) AS m
    JOIN ds ON ds.namespace = m.namespace AND ds.name = m.name
    LEFT JOIN ver_links AS l
           ON l.namespace = m.namespace AND l.name = m.name AND l.version = m.version
    ORDER BY ds.id, m.version
    ON CONFLICT (dataset_id, version) DO UPDATE SET
        producer_run_uuid = least(v.producer_run_uuid, excluded.producer_run_uuid),
        produced_at = least(v.produced_at, excluded.produced_at),
        first_seen = least(v.first_seen, excluded.first_seen),
        links = v.links || excluded.links
    RETURNING id, dataset_id, version
),
io AS (
    INSERT INTO lineage_run_io AS e (run_id, dataset_id, version_id, direction, seen_at)
    SELECT run.id, ds.id, ver.id, m.direction, m.seen_at
    FROM (
        SELECT x.run_uuid, x.namespace, x.name, x.version, x.direction, min(n.t) AS seen_at
        FROM new AS n,
             jsonb_to_recordset(n.ev->'io')
             AS x(run_uuid uuid, namespace text, name text, version text, direction text)
        GROUP BY 1, 2, 3, 4, 5
    ) AS m
    JOIN run ON run.run_uuid = m.run_uuid
    JOIN ds ON ds.namespace = m.namespace AND ds.name = m.name
    LEFT JOIN ver ON ver.dataset_id = ds.id AND ver.version = m.version
    ORDER BY run.id, m.direction, ds.id, ver.id
    ON CONFLICT (run_id, direction, dataset_id, version_id) DO UPDATE
        SET seen_at = least(e.seen_at, excluded.seen_at)
    RETURNING id, run_id, dataset_id, version_id, direction
),
jio AS (
    INSERT INTO lineage_job_io (job_id, direction, dataset_id)
    SELECT DISTINCT job.id, x.direction, ds.id
    FROM new AS n
    CROSS JOIN jsonb_to_recordset(n.ev->'job_io') AS x(namespace text, name text, direction text)
    JOIN job ON job.namespace = n.ev->>'job_ns' AND job.name = n.ev->>'job_name'
    JOIN ds ON ds.namespace = x.namespace AND ds.name = x.name
    ORDER BY 1, 2, 3
    ON CONFLICT DO NOTHING
),
fac_rows AS MATERIALIZED (
    SELECT n.t, f.meta->>0 AS kind, f.meta->>1 AS ns, f.meta->>2 AS nm, f.meta->>3 AS ver,
           f.meta->>4 AS dir, (f.meta->>5)::uuid AS run, f.meta->>6 AS fname,
           f.meta->>7 AS hash, f.facet
    FROM new AS n,
         ROWS FROM (jsonb_array_elements(n.ev->'facet_meta'),
                    jsonb_array_elements(n.ev->'facets')) AS f(meta, facet)
),
fac_owned AS (
    SELECT f.kind, job.id AS owner_id, f.fname, f.hash, f.facet, f.t
    FROM fac_rows AS f JOIN job ON job.namespace = f.ns AND job.name = f.nm
    WHERE f.kind = 'job'
    UNION ALL
    SELECT f.kind, run.id, f.fname, f.hash, f.facet, f.t
    FROM fac_rows AS f JOIN run ON run.run_uuid = f.run
    WHERE f.kind = 'run'
    UNION ALL
    SELECT f.kind, ds.id, f.fname, f.hash, f.facet, f.t
    FROM fac_rows AS f JOIN ds ON ds.namespace = f.ns AND ds.name = f.nm
    WHERE f.kind = 'dataset'
    UNION ALL
    SELECT f.kind, ver.id, f.fname, f.hash, f.facet, f.t
    FROM fac_rows AS f
    JOIN ds ON ds.namespace = f.ns AND ds.name = f.nm
    JOIN ver ON ver.dataset_id = ds.id AND ver.version = f.ver
    WHERE f.kind = 'version'
    UNION ALL
    SELECT f.kind, io.id, f.fname, f.hash, f.facet, f.t
    FROM fac_rows AS f
    JOIN run ON run.run_uuid = f.run
    JOIN ds ON ds.namespace = f.ns AND ds.name = f.nm
    JOIN io ON io.run_id = run.id AND io.dataset_id = ds.id AND io.direction = f.dir
    LEFT JOIN ver ON ver.id = io.version_id
    WHERE f.kind IN ('input', 'output') AND ver.version IS NOT DISTINCT FROM f.ver
),
fac AS (
    INSERT INTO lineage_facets AS f (owner_kind, owner_id, name, content_hash, facet,
                                     first_seen, last_seen)
    SELECT o.kind, o.owner_id, o.fname, o.hash, (array_agg(o.facet))[1], min(o.t), max(o.t)
    FROM fac_owned AS o
    GROUP BY 1, 2, 3, 4
    ORDER BY 1, 2, 3, 4
    ON CONFLICT (owner_kind, owner_id, name, content_hash) DO UPDATE
        SET first_seen = least(f.first_seen, excluded.first_seen),
            last_seen = greatest(f.last_seen, excluded.last_seen)
        WHERE f.first_seen > excluded.first_seen OR f.last_seen < excluded.last_seen
),
col AS (
    INSERT INTO lineage_column_edges AS c (out_dataset_id, out_field, in_dataset_id, in_field,
                                           detail, detail_hash, first_seen)
    SELECT o.id, m.out_field, i.id, m.in_field, m.detail, m.detail_hash, m.first_seen
    FROM (
        SELECT x.out_namespace, x.out_name, x.out_field, x.in_namespace, x.in_name,
               x.in_field, x.detail_hash, (array_agg(x.detail))[1] AS detail,
               min(n.t) AS first_seen
        FROM new AS n,
             jsonb_to_recordset(n.ev->'edges')
             AS x(out_namespace text, out_name text, out_field text, in_namespace text,
                  in_name text, in_field text, detail jsonb, detail_hash text)
        GROUP BY 1, 2, 3, 4, 5, 6, 7
    ) AS m
    JOIN ds AS o ON o.namespace = m.out_namespace AND o.name = m.out_name
    JOIN ds AS i ON i.namespace = m.in_namespace AND i.name = m.in_name
    ORDER BY 1, 2, 3, 4, 6
    ON CONFLICT ON CONSTRAINT uq_lineage_column_edges_edge DO UPDATE
        SET first_seen = least(c.first_seen, excluded.first_seen)
        WHERE c.first_seen > excluded.first_seen
)
SELECT i.received_by, n.id AS event_id, job.id AS job_id, run.job_id AS run_job_id
FROM input AS i
LEFT JOIN new AS n ON n.e = i.e
LEFT JOIN job ON n.e IS NOT NULL
              AND job.namespace = i.ev->>'job_ns' AND job.name = i.ev->>'job_name'
LEFT JOIN run ON n.e IS NOT NULL AND run.run_uuid = (i.ev->>'run_uuid')::uuid
ORDER BY i.e
"""
)


# The planner cannot see how few rows the JSON parameter holds. Its guesses would make it
# JIT-compile the statement (seconds) and nest loops over the CTEs (quadratic in the group).
# A connection that only writes lineage (the group-commit writer's) switches both off once
# (`configure_writer_connection`); on any other, they are switched off around the statement
# and put back right after it, in the same round trip.
_PLANNER_KEY = "driftgate.lineage_planner"
_PLANNER_SAVE = (
    "SELECT set_config('driftgate.jit', current_setting('jit'), true), "
    "set_config('driftgate.nestloop', current_setting('enable_nestloop'), true)"
)
_PLANNER_OFF = "SELECT set_config('jit', 'off', true), set_config('enable_nestloop', 'off', true)"
_PLANNER_RESTORE = (
    "SELECT set_config('jit', current_setting('driftgate.jit'), true), "
    "set_config('enable_nestloop', current_setting('driftgate.nestloop'), true)"
)


def configure_writer_connection(connection: Connection) -> None:
    """Planner settings for good, for a connection that writes lineage and nothing else.

    Such a connection must not go back to the pool (close it with `invalidate()`).
    """
    connection.exec_driver_sql("SET jit = off")
    connection.exec_driver_sql("SET enable_nestloop = off")
    connection.commit()
    connection.info[_PLANNER_KEY] = True


@dataclass(frozen=True)
class Stored:
    actor: str | None  # who it was received from; None: the token was refused, nothing written
    event_id: int | None  # None: a duplicate (or refused)
    job_id: int | None
    run_job_id: int | None

    @property
    def duplicate(self) -> bool:
        return self.event_id is None


def event_json(rows: EventRows) -> str:
    """One event's part of the statement's parameter (pure; built before the event is queued).

    The payload and the facets are spliced in as the canonical JSON text computed for their
    hashes, so nothing large is serialized twice.
    """
    head = json.dumps(
        {
            "hash": rows.event_hash,
            "kind": rows.kind,
            "event_type": rows.event_type,
            "t": rows.event_time.isoformat(),
            "run_uuid": rows.run_uuid,
            "producer": rows.producer,
            "job_ns": rows.job[0] if rows.job else None,
            "job_name": rows.job[1] if rows.job else None,
            "runs": [rows.run] if rows.run else [],
            "datasets": rows.datasets,
            "versions": rows.versions,
            "io": rows.io,
            "job_io": rows.job_io,
            "edges": rows.column_edges,
            "facet_meta": rows.facets,
        },
        ensure_ascii=False,
    )
    facets = ",".join(rows.facet_json)
    return f'{head[:-1]}, "payload": {rows.canonical}, "facets": [{facets}]}}'


@dataclass(frozen=True)
class Received:
    """One event to store: its part of the statement's parameter, and who sent it: a known
    principal's name, or the SHA-256 of a bearer token that the statement itself checks."""

    event_json: str
    received_by: str | None = None
    token_hash: str | None = None


@cache
def _ingest_sql() -> tuple[bytes, tuple[str, ...]]:
    """The statement with `$n` placeholders, rendered once: psycopg does not cache its own
    conversion of statements this long. psycopg prepares it after a few executions."""
    compiled = _INGEST.compile(dialect=pg_psycopg.dialect(paramstyle="numeric_dollar"))
    assert compiled.positiontup is not None
    return str(compiled).encode(), tuple(compiled.positiontup)


def store_events(
    session: Session,
    events: Sequence[Received],
    *,
    received_at: datetime,
    roles: Sequence[str] = (),
) -> list[Stored]:
    """Write events in one statement, in the session's transaction; one result per event.

    An event whose hash is known (stored before, or earlier in `events`) writes nothing and
    comes back as a duplicate. An event sent with a token that is unknown, revoked or has none
    of `roles` writes nothing and comes back with no actor. A failing statement aborts the
    transaction (the caller rolls back); nothing is left half-applied. The statement (and the
    planner settings around it) go out in one pipeline: one round trip.
    """
    with pipeline(session):
        pending = queue_store_events(session, events, received_at=received_at, roles=roles)
    return pending.rows()


def pipeline(session: Session) -> AbstractContextManager[Any]:
    """psycopg's pipeline on the session's connection: statements sent inside it go out
    together, and their results come back in one round trip when it ends."""
    return _driver(session).pipeline()


@contextmanager
def committing_pipeline(session: Session) -> Iterator[None]:
    """On the writer's own connection (`configure_writer_connection`): pipeline what is sent
    inside, and send COMMIT after it, so the last writes and the commit share one round trip;
    the caller then calls `session.commit()` as usual, which finds nothing left to commit. An
    error in any of them (the commit included) is raised when the block ends, with the
    transaction not committed. On any other connection (a caller's session, savepoints in
    tests) this does nothing: the caller's commit works as it always does.
    """
    if not session.connection().info.get(_PLANNER_KEY):
        yield
        return
    raw = _driver(session)
    with raw.pipeline():
        yield
        raw.execute("COMMIT")


class PendingStore:
    """The result of a queued `store_events` statement (see `queue_store_events`)."""

    def __init__(self, cursor: psycopg.RawCursor[Any] | None) -> None:
        self._cursor = cursor

    def rows(self) -> list[Stored]:
        """One result per event, in order (waits for the statement if it is still pending)."""
        if self._cursor is None:
            return []
        return [Stored(*row) for row in self._cursor.fetchall()]


def queue_store_events(
    session: Session,
    events: Sequence[Received],
    *,
    received_at: datetime,
    roles: Sequence[str] = (),
) -> PendingStore:
    """`store_events`, sent but not waited for when called inside `pipeline(session)`, so the
    caller can send more statements in the same round trip (ingest: the audit chain's lock)."""
    if not events:
        return PendingStore(None)
    items = ",".join(
        f'{{"by":{json.dumps(e.received_by, ensure_ascii=False)},'
        f'"tok":{json.dumps(e.token_hash)},"ev":{e.event_json}}}'
        for e in events
    )
    sql, names = _ingest_sql()
    values = {"events": f"[{items}]", "received_at": received_at, "roles": list(roles)}
    around = not session.connection().info.get(_PLANNER_KEY)
    raw = _driver(session)
    cursor = psycopg.RawCursor(raw)
    if around:
        raw.execute(_PLANNER_SAVE)
        raw.execute(_PLANNER_OFF)
    cursor.execute(sql, [values[n] for n in names])
    if around:
        raw.execute(_PLANNER_RESTORE)
    return PendingStore(cursor)


def _driver(session: Session) -> psycopg.Connection[Any]:
    raw = session.connection().connection.driver_connection
    assert isinstance(raw, psycopg.Connection)  # the only driver driftgate uses
    return raw
