"""Every query of the monitors domain."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, cast

import psycopg
from psycopg.rows import namedtuple_row, tuple_row
from sqlalchemy import Row, Table, delete, func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from checks.models import Batch, ColumnProfile
from contracts.models import Contract
from monitors.drift.buckets import EPOCH, LEVELS, NAMES, SUB_HOUR, Bucket
from monitors.drift.models import DriftWindow, MonitorReference, ProfileRollup

USABLE = ("passed", "warned", "quarantined")  # batches whose accepted rows were stored
_MIN_TIME, _MAX_TIME = datetime(1, 1, 2, tzinfo=UTC), datetime(9999, 12, 30, tzinfo=UTC)


# --- contracts and batches ------------------------------------------------------------------


def find_contract(session: Session, dataset: str) -> Contract | None:
    """A contract by id, by dataset name, or by `namespace/name` of its dataset."""
    found = session.get(Contract, dataset)
    if found is not None:
        return found
    rows = list(
        session.scalars(
            select(Contract).where(
                (Contract.dataset_name == dataset)
                | (func.concat(Contract.dataset_namespace, "/", Contract.dataset_name) == dataset)
            )
        )
    )
    return rows[0] if len(rows) == 1 else None


def monitored_contract_ids(session: Session) -> list[str]:
    """Contracts that have received at least one usable batch."""
    stmt = select(Batch.contract_id).where(Batch.status.in_(USABLE)).distinct()
    return sorted(session.scalars(stmt))


_BATCHES = """
SELECT id, received_at, rows_accepted
FROM batches
WHERE contract_id = %(contract_id)s AND status = ANY(%(usable)s) AND rows_accepted > 0
  AND received_at >= %(start)s AND received_at < %(end)s
ORDER BY received_at, id
"""


def batches_between(
    session: Session, contract_id: str, start: datetime | None, end: datetime | None
) -> list[Any]:
    """Usable batches received in [start, end), oldest first (by arrival, then id), as named
    tuples (`id`, `received_at`, `rows_accepted`)."""
    params = {
        "contract_id": contract_id,
        "usable": list(USABLE),
        "start": start if start is not None else _MIN_TIME,
        "end": end if end is not None else _MAX_TIME,
    }
    return _fetch(session, _BATCHES, params, named=True)


def batches_by_id(session: Session, ids: Sequence[uuid.UUID]) -> list[Batch]:
    if not ids:
        return []
    return list(session.scalars(select(Batch).where(Batch.id.in_(ids)).order_by(Batch.received_at)))


def profiles_of(
    session: Session, batch_ids: Sequence[uuid.UUID], fields: Sequence[str]
) -> list[Row[Any]]:
    """(batch_id, field, profile) of these batches and fields."""
    if not batch_ids or not fields:
        return []
    stmt = select(ColumnProfile.batch_id, ColumnProfile.field, ColumnProfile.profile).where(
        ColumnProfile.batch_id.in_(batch_ids), ColumnProfile.field.in_(fields)
    )
    return list(session.execute(stmt))


_SPLIT_PROFILES = text(
    """
SELECT batch_id, field, profile - 'sketch' AS meta,
       profile #>> '{sketch,keys}' AS sketch_keys,
       profile #>> '{sketch,counts}' AS sketch_counts,
       (profile #>> '{sketch,sub_bits}')::int AS sketch_sub_bits
FROM column_profiles WHERE batch_id = ANY(:ids) AND field = ANY(:fields)
"""
)


def split_profiles_of(
    session: Session, batch_ids: Sequence[uuid.UUID], fields: Sequence[str]
) -> list[Row[Any]]:
    """Like `profiles_of`, but each sketch's keys and counts come back as JSON array text,
    which numpy parses ~4x faster than Python builds int objects from JSON."""
    if not batch_ids or not fields:
        return []
    return list(session.execute(_SPLIT_PROFILES, {"ids": list(batch_ids), "fields": list(fields)}))


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
    return _fetch(session, _ROLLUP_ROWS, params)


def _fetch(session: Session, sql: str, params: dict[str, Any], *, named: bool = False) -> list[Any]:
    """Rows of a hot read in PostgreSQL's binary format, in the session's transaction.

    SQLAlchemy has no switch for binary results; psycopg has one, and it skips formatting and
    parsing every value as text (bytea as hex, timestamps) and building SQLAlchemy rows.
    `named` rows have attributes (named tuples), the others are plain tuples.
    """
    conn = session.connection().connection.driver_connection
    if not isinstance(conn, psycopg.Connection):  # another driver: the ordinary text protocol
        return list(session.connection().exec_driver_sql(sql, params).all())
    factory = namedtuple_row if named else tuple_row
    with conn.cursor(binary=True, row_factory=factory) as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


_USABLE_BATCH = (
    "b.contract_id = %(contract_id)s AND b.status = ANY(%(usable)s) AND b.rows_accepted > 0"
)
_RANGES = (
    "unnest(CAST(%(starts)s AS timestamptz[]), CAST(%(ends)s AS timestamptz[]))"
    " WITH ORDINALITY AS w(s, e, i)"
)
_BUCKET_STATS = f"""
SELECT s.batches, s.newest, s.first, s.rows
FROM {_RANGES}
CROSS JOIN LATERAL (
  SELECT count(*) AS batches, max(b.received_at) AS newest, min(b.received_at) AS first,
         coalesce(sum(b.rows_accepted), 0)::bigint AS rows
  FROM batches b
  WHERE {_USABLE_BATCH} AND b.received_at >= w.s AND b.received_at < w.e
) s
ORDER BY w.i
"""


def range_stats(
    session: Session, contract_id: str, ranges: Sequence[tuple[datetime, datetime]]
) -> list[Any]:
    """Per range [start, end), in order: usable batches, newest and first arrival (None when
    empty) and accepted rows, as named tuples (`batches`, `newest`, `first`, `rows`).

    Counted in PostgreSQL, one index range scan per range: a window's batches are never sent
    to Python to be counted (43,200 minute-level batches cost ~0.1 s that way).
    """
    if not ranges:
        return []
    return _fetch(session, _BUCKET_STATS, _range_params(contract_id, ranges), named=True)


# `OFFSET 0` keeps each range's subquery an index range scan: flattened into a join, before
# the batches table was analyzed, it became a scan of all the contract's batches (~20 ms at
# 44,640), filtered against the ranges afterwards.
_BATCHES_IN = f"""
SELECT b.id, b.received_at, b.rows_accepted
FROM {_RANGES}
CROSS JOIN LATERAL (
  SELECT b.id, b.received_at, b.rows_accepted FROM batches b
  WHERE {_USABLE_BATCH} AND b.received_at >= w.s AND b.received_at < w.e
  OFFSET 0
) b
ORDER BY b.received_at, b.id
"""


def batches_in(
    session: Session, contract_id: str, ranges: Sequence[tuple[datetime, datetime]]
) -> list[Any]:
    """Usable batches received in any of these disjoint ranges, oldest first, as named tuples
    (`id`, `received_at`, `rows_accepted`)."""
    if not ranges:
        return []
    return _fetch(session, _BATCHES_IN, _range_params(contract_id, ranges), named=True)


# The newest `limit` arrivals and any batch tied with the last of them, in index order (an
# ORDER BY that also named `id` made PostgreSQL sort the whole range first when the table had
# no statistics: ~12 ms for 43,200 batches); ties are then broken by id outside.
_NEWEST_IDS = f"""
SELECT (SELECT (array_agg(n.id ORDER BY n.received_at DESC, n.id))[1:%(limit)s] FROM (
  SELECT b.id, b.received_at FROM batches b
  WHERE {_USABLE_BATCH} AND b.received_at >= w.s AND b.received_at < w.e
  ORDER BY b.received_at DESC
  FETCH FIRST %(limit)s ROWS WITH TIES
) n) AS ids
FROM {_RANGES}
ORDER BY w.i
"""


def newest_batch_ids(
    session: Session, contract_id: str, ranges: Sequence[tuple[datetime, datetime]], limit: int
) -> list[list[uuid.UUID]]:
    """Per range, the ids of its newest `limit` usable batches, newest first (ties by id, as
    `GET /batches` lists them): an index scan backwards that stops after `limit` rows."""
    if not ranges:
        return []
    params = {**_range_params(contract_id, ranges), "limit": limit}
    return [list(r[0] or []) for r in _fetch(session, _NEWEST_IDS, params)]


# Each probe is the first row of an index range scan (ORDER BY … LIMIT 1) over at most a week:
# written as min()/max(), or unbounded, the probe for the batch before a window became, on a
# table without statistics, a scan of every earlier batch of the contract (~30 ms at 44,640).
_EDGES = f"""
SELECT
  (SELECT b.received_at FROM batches b
   WHERE {_USABLE_BATCH} AND b.received_at >= w.s - interval '7 days' AND b.received_at < w.s
   ORDER BY b.received_at DESC LIMIT 1) AS before,
  (SELECT b.received_at FROM batches b
   WHERE {_USABLE_BATCH} AND b.received_at >= w.s AND b.received_at < w.e
   ORDER BY b.received_at LIMIT 1) AS first,
  (SELECT b.received_at FROM batches b
   WHERE {_USABLE_BATCH} AND b.received_at >= w.s AND b.received_at < w.e
   ORDER BY b.received_at DESC LIMIT 1) AS last,
  (SELECT b.received_at FROM batches b
   WHERE {_USABLE_BATCH} AND b.received_at >= w.e AND b.received_at < w.e + interval '7 days'
   ORDER BY b.received_at LIMIT 1) AS after
FROM {_RANGES}
ORDER BY w.i
"""


def window_edges(
    session: Session, contract_id: str, ranges: Sequence[tuple[datetime, datetime]]
) -> list[Any]:
    """Per range: the arrivals of the nearest usable batch in the week before it, its first and
    last, and the nearest in the week after it (None when there is none), as named tuples
    (`before`, `first`, `last`, `after`). Four index probes per range, each stopping at its
    first match."""
    if not ranges:
        return []
    return _fetch(session, _EDGES, _range_params(contract_id, ranges), named=True)


def _range_params(contract_id: str, ranges: Sequence[tuple[datetime, datetime]]) -> dict[str, Any]:
    return {
        "contract_id": contract_id,
        "usable": list(USABLE),
        "starts": [r[0] for r in ranges],
        "ends": [r[1] for r in ranges],
    }


def _stale_sql(levels: Sequence[str]) -> str:
    """Whole buckets of these levels inside each range, with their batch count, newest arrival
    and whether their rollups match for every field. Batches are grouped once at the finest
    level; coarser levels add those groups up (a few hundred rows, not every batch again)."""
    widths = {name: int(length.total_seconds()) for name, length in LEVELS}
    values = ", ".join(f"('{n}', interval '{widths[n]} seconds')" for n in levels)
    return f"""
WITH finest AS (
  SELECT w.s, w.e, date_bin(interval '{widths[levels[0]]} seconds', b.received_at, %(epoch)s)
           AS bucket_start,
         count(*) AS batches, max(b.received_at) AS newest
  FROM {_RANGES}
  CROSS JOIN LATERAL (
    SELECT b.received_at FROM batches b
    WHERE {_USABLE_BATCH} AND b.received_at >= w.s AND b.received_at < w.e
    OFFSET 0
  ) b
  GROUP BY 1, 2, 3
),
levels(level, width) AS (VALUES {values}),
buckets AS (
  SELECT l.level, l.width, f.s, f.e, date_bin(l.width, f.bucket_start, %(epoch)s) AS bucket_start,
         sum(f.batches)::int AS batches, max(f.newest) AS newest
  FROM finest f CROSS JOIN levels l
  GROUP BY 1, 2, 3, 4, 5
)
SELECT k.level, k.bucket_start, k.batches, k.newest,
       (SELECT count(*) FROM profile_rollups r
        WHERE r.contract_id = %(contract_id)s AND r.level = k.level
          AND r.bucket_start = k.bucket_start AND r.field = ANY(%(fields)s)
          AND r.batches = k.batches AND r.last_received_at = k.newest
       ) = cardinality(%(fields)s::text[])
       -- an hour is done once it was merged from its 10-minute rollups (older hours were not)
       AND (k.level <> 'hour' OR EXISTS (
         SELECT 1 FROM profile_rollups r
         WHERE r.contract_id = %(contract_id)s AND r.level = '10m'
           AND r.bucket_start >= k.bucket_start AND r.bucket_start < k.bucket_start + k.width
       )) AS current
FROM buckets k
WHERE k.bucket_start >= k.s AND k.bucket_start + k.width <= k.e
"""


_COARSE = tuple(name for name in NAMES if name not in SUB_HOUR)
_STALE_COARSE, _STALE_SUB_HOUR = _stale_sql(_COARSE), _stale_sql(SUB_HOUR)


def rollup_buckets(
    session: Session,
    contract_id: str,
    fields: Sequence[str],
    ranges: Sequence[tuple[datetime, datetime]],
    *,
    sub_hour: bool = False,
) -> list[Any]:
    """Every whole bucket inside the ranges with usable batches, of the hour, 6-hour, day and
    week levels (or, with `sub_hour`, of the minute and 10-minute levels): level, bucket start,
    batch count, newest arrival, and whether its rollups are current for every field."""
    if not ranges:
        return []
    params = {**_range_params(contract_id, ranges), "epoch": EPOCH, "fields": list(fields)}
    return _fetch(session, _STALE_SUB_HOUR if sub_hour else _STALE_COARSE, params, named=True)


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


def registered_training_batches(session: Session, model_name: str, version: str) -> list[uuid.UUID]:
    """Batch ids a registered model version lists as its training data (read-only; the
    registry is governance's table, read here by SQL so monitors do not import governance)."""
    if not version.isdigit():
        return []
    rows = session.execute(
        text(
            "SELECT e->>'batch_id' FROM model_versions v, jsonb_array_elements(v.training_data) e "
            "WHERE v.model_name = :m AND v.version = :v AND e ? 'batch_id'"
        ),
        {"m": model_name, "v": int(version)},
    )
    out = []
    for (raw,) in rows:
        try:
            out.append(uuid.UUID(raw))
        except (TypeError, ValueError):
            continue
    return out


def ingest_marker(session: Session) -> tuple[Any, ...]:
    """Changes whenever a batch or a label arrives: the runner polls it to evaluate after ingest."""
    batches = session.execute(select(func.count(), func.max(Batch.received_at))).one()
    labels = session.execute(text("SELECT count(*), max(received_at) FROM prediction_labels")).one()
    return (*batches, *labels)


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


def drift_verdicts(
    session: Session, contract_id: str, kind: str, start: datetime, end: datetime
) -> list[Row[Any]]:
    """(window_end, verdict) of evaluated windows ending in (start, end]."""
    stmt = (
        select(DriftWindow.window_end, DriftWindow.verdict)
        .where(
            DriftWindow.contract_id == contract_id,
            DriftWindow.kind == kind,
            DriftWindow.window_end > start,
            DriftWindow.window_end <= end,
        )
        .order_by(DriftWindow.window_end)
    )
    return list(session.execute(stmt))


def delete_sliding_windows_before(session: Session, contract_id: str, cutoff: datetime) -> None:
    """Forget sliding-window verdicts that ended before `cutoff` (past every SLO's span)."""
    session.execute(
        delete(DriftWindow).where(
            DriftWindow.contract_id == contract_id,
            DriftWindow.window_end < cutoff,
            DriftWindow.kind == "sliding",
        )
    )


def delete_drift_windows(session: Session, contract_id: str, kind: str) -> None:
    session.execute(
        delete(DriftWindow).where(DriftWindow.contract_id == contract_id, DriftWindow.kind == kind)
    )
