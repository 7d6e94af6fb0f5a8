"""Every query of drift's tables: references, profile rollups and judged drift windows.

Batches and their column profiles are checks' tables, read through `checks.repository`.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

import psycopg
from sqlalchemy import BigInteger, Table, delete, func, select, text
from sqlalchemy.dialects.postgresql import aggregate_order_by, insert
from sqlalchemy.orm import Session

from core.db import fetch_binary
from monitors.drift.buckets import Bucket
from monitors.drift.models import DriftWindow, MonitorReference, ProfileRollup

# --- profile rollups ------------------------------------------------------------------------


_ROLLUP_ROWS = """
SELECT w.i, r.field, r.type, r.count, r.nulls, r.sketch, r.categories
FROM unnest(CAST(%(levels)s AS text[]), CAST(%(starts)s AS timestamptz[]),
            CAST(%(batches)s AS int[]), CAST(%(newest)s AS timestamptz[]))
     WITH ORDINALITY AS w(level, bucket_start, batches, newest, i)
CROSS JOIN LATERAL (
  SELECT * FROM profile_rollups r
  WHERE r.contract_id = %(contract_id)s AND r.level = w.level AND r.bucket_start = w.bucket_start
    AND r.field = ANY(%(fields)s) AND r.batches = w.batches AND r.last_received_at = w.newest
  OFFSET 0
) r
"""


def rollup_rows(
    session: Session,
    contract_id: str,
    buckets: Sequence[tuple[Bucket, int, datetime]],
    fields: Sequence[str],
) -> list[Any]:
    """The rollups of these (bucket, batch count, newest arrival) whose labels match that count
    and arrival, as plain tuples (position of the bucket from 1, field, type, count, nulls,
    sketch, categories).

    One primary-key lookup per bucket (a lateral subquery the planner cannot flatten): a
    row-value `IN` list, or a plain join before the table was analyzed, made it scan every
    rollup of the contract for the fields instead (~30 ms at 30 days). In binary format the
    sketches travel as raw bytes instead of hex text: half the bytes, ~40% of the query; and
    rows are checked against the labels in SQL, so fewer columns are parsed in Python.
    """
    if not buckets or not fields:
        return []
    params = {
        "contract_id": contract_id,
        "levels": [b[0][0] for b in buckets],
        "starts": [b[0][1] for b in buckets],
        "batches": [b[1] for b in buckets],
        "newest": [b[2] for b in buckets],
        "fields": list(fields),
    }
    return fetch_binary(session, _ROLLUP_ROWS, params)


# Per bucket: are its rollups current for every field (same batch count and newest arrival as
# its batches now), and, for an hour, was it merged from 10-minute rollups (older hours were
# not)? One primary-key probe per bucket, as in `rollup_rows`.
_CURRENT = """
SELECT (SELECT count(*) FROM profile_rollups r
        WHERE r.contract_id = %(contract_id)s AND r.level = w.level
          AND r.bucket_start = w.bucket_start AND r.field = ANY(%(fields)s)
          AND r.batches = w.batches AND r.last_received_at = w.newest
       ) = cardinality(%(fields)s::text[])
       AND (w.level <> 'hour' OR EXISTS (
         SELECT 1 FROM profile_rollups r
         WHERE r.contract_id = %(contract_id)s AND r.level = '10m'
           AND r.bucket_start >= w.bucket_start
           AND r.bucket_start < w.bucket_start + interval '1 hour'
       )) AS current
FROM unnest(CAST(%(levels)s AS text[]), CAST(%(starts)s AS timestamptz[]),
            CAST(%(batches)s AS int[]), CAST(%(newest)s AS timestamptz[]))
     WITH ORDINALITY AS w(level, bucket_start, batches, newest, i)
ORDER BY w.i
"""


def rollups_current(
    session: Session,
    contract_id: str,
    buckets: Sequence[tuple[Bucket, int, datetime]],
    fields: Sequence[str],
) -> list[bool]:
    """Per (bucket, batch count, newest arrival), in order: whether its rollups match that
    count and arrival for every field (and an hour's were merged from its 10 minutes)."""
    if not buckets:
        return []
    params = {
        "contract_id": contract_id,
        "levels": [b[0][0] for b in buckets],
        "starts": [b[0][1] for b in buckets],
        "batches": [b[1] for b in buckets],
        "newest": [b[2] for b in buckets],
        "fields": list(fields),
    }
    return [bool(r[0]) for r in fetch_binary(session, _CURRENT, params)]


_ROLLUP_COLUMNS = {
    "contract_id": "text",
    "level": "text",
    "bucket_start": "timestamptz",
    "field": "text",
    "type": "text",
    "count": "int8",
    "nulls": "int8",
    "sketch": "bytea",
    "categories": "jsonb",
    "batches": "int4",
    "last_received_at": "timestamptz",
    "computed_at": "timestamptz",
}
_ROLLUP_KEY = ("contract_id", "level", "bucket_start", "field")
_UPSERT_ROLLUPS = f"""
INSERT INTO profile_rollups ({", ".join(_ROLLUP_COLUMNS)})
SELECT {", ".join(_ROLLUP_COLUMNS)} FROM rollup_upserts
ON CONFLICT ({", ".join(_ROLLUP_KEY)}) DO UPDATE SET
  {", ".join(f"{c} = excluded.{c}" for c in _ROLLUP_COLUMNS if c not in _ROLLUP_KEY)}
"""


def upsert_rollups(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Insert or replace rollup rows: COPY into a temporary table, then one upsert from it
    (an executemany sent ~6,000 rows a refresh one statement each, ~70 µs a row)."""
    if not rows:
        return
    conn = session.connection().connection.driver_connection
    if not isinstance(conn, psycopg.Connection):  # another driver: a plain executemany
        stmt = insert(cast(Table, ProfileRollup.__table__))
        session.execute(
            stmt.on_conflict_do_update(
                index_elements=list(_ROLLUP_KEY),
                set_={c: stmt.excluded[c] for c in _ROLLUP_COLUMNS if c not in _ROLLUP_KEY},
            ),
            list(rows),
        )
        return
    columns = ", ".join(_ROLLUP_COLUMNS)
    with conn.cursor() as cursor:
        # session-private; emptied after each upsert (and at commit, should one fail midway)
        cursor.execute(
            "CREATE TEMP TABLE IF NOT EXISTS rollup_upserts"
            " (LIKE profile_rollups INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
        )
        with cursor.copy(f"COPY rollup_upserts ({columns}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(list(_ROLLUP_COLUMNS.values()))
            for r in rows:
                copy.write_row([r[c] for c in _ROLLUP_COLUMNS])
        cursor.execute(_UPSERT_ROLLUPS)
        cursor.execute("DELETE FROM rollup_upserts")


# --- references -----------------------------------------------------------------------------


def active_reference(session: Session, contract_id: str) -> MonitorReference | None:
    """The highest version, unless it was retired (then there is no active reference)."""
    latest = latest_reference(session, contract_id)
    return latest if latest is not None and latest.retired_at is None else None


def latest_reference(session: Session, contract_id: str) -> MonitorReference | None:
    stmt = (
        select(MonitorReference)
        .where(MonitorReference.contract_id == contract_id)
        .order_by(MonitorReference.version.desc())
        .limit(1)
    )
    return session.scalar(stmt)


def reference_versions(session: Session, contract_id: str) -> list[MonitorReference]:
    stmt = (
        select(MonitorReference)
        .where(MonitorReference.contract_id == contract_id)
        .order_by(MonitorReference.version.desc())
    )
    return list(session.scalars(stmt))


def reference_slices(
    session: Session, reference_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, dict[str, dict[str, int]]]:
    """Per seasonal reference, each slice's batches and rows (not its profiles)."""
    if not reference_ids:
        return {}
    rows = session.execute(
        text(
            "SELECT r.id, s.key, (s.value->>'batches')::int, (s.value->>'rows')::bigint"
            " FROM monitor_references r, jsonb_each(r.slices) s"
            " WHERE r.id = ANY(:ids) AND jsonb_typeof(r.slices) = 'object'"
        ),
        {"ids": list(reference_ids)},
    )
    out: dict[uuid.UUID, dict[str, dict[str, int]]] = {}
    for ref_id, key, batches, count in rows:
        out.setdefault(ref_id, {})[key] = {"batches": batches, "rows": count}
    return {k: dict(sorted(v.items())) for k, v in out.items()}


def lock_contract_references(session: Session, contract_id: str) -> None:
    """Serialize reference versioning per contract (two runners, or a runner and an admin)."""
    session.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 61))"),
        {"k": f"reference\x1f{contract_id}"},
    )


# --- drift windows --------------------------------------------------------------------------


def drift_free_slots(
    session: Session,
    contract_id: str,
    kinds: Sequence[str],
    bad_verdicts: Sequence[str],
    step_us: int,
    start: datetime,
    end: datetime,
) -> tuple[Sequence[int] | None, Sequence[bool] | None]:
    """Per `step_us` slot (epoch-aligned, by window end) with judged windows of these kinds
    ending in (start, end]: the end of its newest window (µs, sorted) and whether none of its
    windows had a bad verdict, as two Postgres arrays (None when there is none)."""
    t = func.floor(func.extract("epoch", DriftWindow.window_end) * 1_000_000).cast(BigInteger)
    slots = (
        select(
            func.max(t).label("t"),
            func.bool_and(DriftWindow.verdict.not_in(bad_verdicts)).label("good"),
        )
        .where(
            DriftWindow.contract_id == contract_id,
            DriftWindow.kind.in_(kinds),
            DriftWindow.verdict != "no_data",
            DriftWindow.window_end > start,
            DriftWindow.window_end <= end,
        )
        .group_by(t // step_us)
        .subquery()
    )
    row = session.execute(
        select(
            func.array_agg(aggregate_order_by(slots.c.t, slots.c.t)),
            func.array_agg(aggregate_order_by(slots.c.good, slots.c.t)),
        )
    ).one()
    return row[0], row[1]


def upsert_drift_window(session: Session, values: dict[str, Any]) -> None:
    stmt = insert(DriftWindow).values(**values)
    update = {k: stmt.excluded[k] for k in values if k not in ("contract_id", "kind")}
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=["contract_id", "kind", "window_start", "window_end", "batch_id"],
            set_=update,
        )
    )


def drift_windows(
    session: Session, contract_id: str, kind: str, start: datetime, end: datetime
) -> list[DriftWindow]:
    stmt = (
        select(DriftWindow)
        .where(
            DriftWindow.contract_id == contract_id,
            DriftWindow.kind == kind,
            DriftWindow.window_end > start,
            DriftWindow.window_end <= end,
        )
        .order_by(DriftWindow.window_start)
    )
    return list(session.scalars(stmt))


def bad_drift_windows(
    session: Session,
    contract_id: str,
    kinds: Sequence[str],
    verdicts: Sequence[str],
    start: datetime,
    end: datetime,
    *,
    limit: int,
) -> list[DriftWindow]:
    """The newest `limit` windows of these kinds with one of these verdicts ending in
    (start, end], newest first."""
    stmt = (
        select(DriftWindow)
        .where(
            DriftWindow.contract_id == contract_id,
            DriftWindow.kind.in_(kinds),
            DriftWindow.verdict.in_(verdicts),
            DriftWindow.window_end > start,
            DriftWindow.window_end <= end,
        )
        .order_by(DriftWindow.window_end.desc(), DriftWindow.id.desc())
        .limit(limit)
    )
    return list(session.scalars(stmt))


def delete_sliding_windows_before(session: Session, contract_id: str, cutoff: datetime) -> None:
    """Forget sliding-window verdicts that ended before `cutoff` (past every SLO's span)."""
    session.execute(
        delete(DriftWindow).where(
            DriftWindow.contract_id == contract_id,
            DriftWindow.window_end < cutoff,
            DriftWindow.kind == "sliding",
        )
    )


def verdict_counts(session: Session) -> list[Any]:
    """(verdict, drift windows stored with it) for each verdict."""
    return list(
        session.execute(select(DriftWindow.verdict, func.count()).group_by(DriftWindow.verdict))
    )


def newest_window_verdicts(session: Session) -> list[Any]:
    """(contract id, verdict) of each contract's newest scheduled drift window."""
    newest = (
        select(DriftWindow.contract_id, DriftWindow.verdict)
        .where(DriftWindow.kind == "window")  # the scheduled windows, not batches or sliding
        .order_by(DriftWindow.contract_id, DriftWindow.window_end.desc())
        .distinct(DriftWindow.contract_id)
    )
    return list(session.execute(newest))
