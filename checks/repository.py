"""Every query of the checks domain."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, Row, cast, func, select, text
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import Session

from checks.models import Batch, ColumnProfile, IdempotencyKey, RuleResult
from core.db import fetch_binary


def get_batch(session: Session, batch_id: uuid.UUID) -> Batch | None:
    return session.get(Batch, batch_id)


def list_batches(
    session: Session,
    *,
    contract_id: str | None,
    status: str | None,
    since: datetime | None,
    until: datetime | None = None,
    limit: int,
    offset: int,
) -> list[Batch]:
    stmt = select(Batch)
    if contract_id:
        stmt = stmt.where(Batch.contract_id == contract_id)
    if status:
        stmt = stmt.where(Batch.status == status)
    if since:
        stmt = stmt.where(Batch.received_at >= since)
    if until:
        stmt = stmt.where(Batch.received_at < until)
    stmt = stmt.order_by(Batch.received_at.desc(), Batch.id).limit(limit).offset(offset)
    return list(session.scalars(stmt))


def count_batches_by_status(
    session: Session, *, contract_id: str | None, since: datetime | None, until: datetime | None
) -> dict[str, int]:
    """How many batches of each status were received in [since, until)."""
    stmt = select(Batch.status, func.count()).group_by(Batch.status)
    if contract_id:
        stmt = stmt.where(Batch.contract_id == contract_id)
    if since:
        stmt = stmt.where(Batch.received_at >= since)
    if until:
        stmt = stmt.where(Batch.received_at < until)
    return {status: int(n) for status, n in session.execute(stmt).all()}


def rule_results(session: Session, batch_id: uuid.UUID) -> list[RuleResult]:
    stmt = select(RuleResult).where(RuleResult.batch_id == batch_id).order_by(RuleResult.position)
    return list(session.scalars(stmt))


def profiles(session: Session, batch_id: uuid.UUID) -> list[ColumnProfile]:
    stmt = (
        select(ColumnProfile)
        .where(ColumnProfile.batch_id == batch_id)
        .order_by(ColumnProfile.field)
    )
    return list(session.scalars(stmt))


def try_lock_idempotency_key(session: Session, principal: str, key: str) -> bool:
    """Transaction-scoped: released on commit, rollback or a crashed connection."""
    got = session.execute(
        text("SELECT pg_try_advisory_xact_lock(hashtextextended(:k, 7))"),
        {"k": f"{principal}\x1f{key}"},
    ).scalar_one()
    return bool(got)


def find_idempotency_key(session: Session, principal: str, key: str) -> IdempotencyKey | None:
    return session.get(IdempotencyKey, (principal, key))


def existing_batch_ids(session: Session, ids: list[uuid.UUID]) -> set[uuid.UUID]:
    """Those of `ids` that name a committed batch."""
    return set(session.scalars(select(Batch.id).where(Batch.id.in_(ids))))


def freshness_facts(
    session: Session, contract_id: str
) -> tuple[datetime | None, datetime | None, int]:
    """Newest batch arrival and newest event time over accepted data, and the batch count."""
    row = session.execute(
        select(
            func.max(Batch.received_at),
            func.max(Batch.newest_event_at).filter(Batch.status != "rejected"),
            func.count(),
        ).where(Batch.contract_id == contract_id)
    ).one()
    return row[0], row[1], int(row[2])


# --- reads for monitors: usable batches, their profiles and events --------------------------

USABLE = ("passed", "warned", "quarantined")  # batches whose accepted rows were stored
_MIN_TIME, _MAX_TIME = datetime(1, 1, 2, tzinfo=UTC), datetime(9999, 12, 30, tzinfo=UTC)
_US = 1_000_000


def contracts_with_usable_batches(session: Session) -> list[str]:
    """Contracts that have received at least one usable batch."""
    stmt = select(Batch.contract_id).where(Batch.status.in_(USABLE)).distinct()
    return sorted(session.scalars(stmt))


def batches_by_id(session: Session, ids: Sequence[uuid.UUID]) -> list[Batch]:
    """These batches, oldest first."""
    if not ids:
        return []
    return list(session.scalars(select(Batch).where(Batch.id.in_(ids)).order_by(Batch.received_at)))


def batch_arrivals(session: Session) -> tuple[int, datetime | None]:
    """How many batches there are and the newest arrival: changes whenever a batch arrives."""
    row = session.execute(select(func.count(), func.max(Batch.received_at))).one()
    return int(row[0]), row[1]


_USABLE_BETWEEN = """
SELECT id, received_at, rows_accepted
FROM batches
WHERE contract_id = %(contract_id)s AND status = ANY(%(usable)s) AND rows_accepted > 0
  AND received_at >= %(start)s AND received_at < %(end)s
ORDER BY received_at, id
"""


def usable_batches_between(
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
    return fetch_binary(session, _USABLE_BETWEEN, params, named=True)


def column_profiles_of(
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


def split_column_profiles_of(
    session: Session, batch_ids: Sequence[uuid.UUID], fields: Sequence[str]
) -> list[Row[Any]]:
    """Like `column_profiles_of`, but each sketch's keys and counts come back as JSON array
    text, which numpy parses ~4x faster than Python builds int objects from JSON."""
    if not batch_ids or not fields:
        return []
    return list(session.execute(_SPLIT_PROFILES, {"ids": list(batch_ids), "fields": list(fields)}))


_USABLE_BATCH = (
    "b.contract_id = %(contract_id)s AND b.status = ANY(%(usable)s) AND b.rows_accepted > 0"
)
_RANGES = (
    "unnest(CAST(%(starts)s AS timestamptz[]), CAST(%(ends)s AS timestamptz[]))"
    " WITH ORDINALITY AS w(s, e, i)"
)
_RANGE_STATS = f"""
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


def usable_range_stats(
    session: Session, contract_id: str, ranges: Sequence[tuple[datetime, datetime]]
) -> list[Any]:
    """Per range [start, end), in order: usable batches, newest and first arrival (None when
    empty) and accepted rows, as named tuples (`batches`, `newest`, `first`, `rows`).

    Counted in PostgreSQL, one index range scan per range: a window's batches are never sent
    to Python to be counted (43,200 minute-level batches cost ~0.1 s that way).
    """
    if not ranges:
        return []
    return fetch_binary(session, _RANGE_STATS, _range_params(contract_id, ranges), named=True)


# `OFFSET 0` keeps each range's subquery an index range scan: flattened into a join, before
# the batches table was analyzed, it became a scan of all the contract's batches (~20 ms at
# 44,640), filtered against the ranges afterwards.
_USABLE_IN = f"""
SELECT b.id, b.received_at, b.rows_accepted
FROM {_RANGES}
CROSS JOIN LATERAL (
  SELECT b.id, b.received_at, b.rows_accepted FROM batches b
  WHERE {_USABLE_BATCH} AND b.received_at >= w.s AND b.received_at < w.e
  OFFSET 0
) b
ORDER BY b.received_at, b.id
"""


def usable_batches_in(
    session: Session, contract_id: str, ranges: Sequence[tuple[datetime, datetime]]
) -> list[Any]:
    """Usable batches received in any of these disjoint ranges, oldest first, as named tuples
    (`id`, `received_at`, `rows_accepted`)."""
    if not ranges:
        return []
    return fetch_binary(session, _USABLE_IN, _range_params(contract_id, ranges), named=True)


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


def newest_usable_batch_ids(
    session: Session, contract_id: str, ranges: Sequence[tuple[datetime, datetime]], limit: int
) -> list[list[uuid.UUID]]:
    """Per range, the ids of its newest `limit` usable batches, newest first (ties by id, as
    `GET /batches` lists them): an index scan backwards that stops after `limit` rows."""
    if not ranges:
        return []
    params = {**_range_params(contract_id, ranges), "limit": limit}
    return [list(r[0] or []) for r in fetch_binary(session, _NEWEST_IDS, params)]


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


def usable_window_edges(
    session: Session, contract_id: str, ranges: Sequence[tuple[datetime, datetime]]
) -> list[Any]:
    """Per range: the arrivals of the nearest usable batch in the week before it, its first and
    last, and the nearest in the week after it (None when there is none), as named tuples
    (`before`, `first`, `last`, `after`). Four index probes per range, each stopping at its
    first match."""
    if not ranges:
        return []
    return fetch_binary(session, _EDGES, _range_params(contract_id, ranges), named=True)


def _range_params(contract_id: str, ranges: Sequence[tuple[datetime, datetime]]) -> dict[str, Any]:
    return {
        "contract_id": contract_id,
        "usable": list(USABLE),
        "starts": [r[0] for r in ranges],
        "ends": [r[1] for r in ranges],
    }


def _bins_sql(widths: Sequence[tuple[str, int]]) -> str:
    """Batches grouped once by the first (finest) width; the other widths add those groups up
    (a few hundred rows, not every batch again)."""
    values = ", ".join(f"('{name}', interval '{seconds} seconds')" for name, seconds in widths)
    return f"""
WITH finest AS (
  SELECT w.s, w.e, date_bin(interval '{widths[0][1]} seconds', b.received_at, %(origin)s)
           AS bin_start,
         count(*) AS batches, max(b.received_at) AS newest
  FROM {_RANGES}
  CROSS JOIN LATERAL (
    SELECT b.received_at FROM batches b
    WHERE {_USABLE_BATCH} AND b.received_at >= w.s AND b.received_at < w.e
    OFFSET 0
  ) b
  GROUP BY 1, 2, 3
),
widths(name, width) AS (VALUES {values}),
bins AS (
  SELECT l.name, l.width, f.s, f.e, date_bin(l.width, f.bin_start, %(origin)s) AS bin_start,
         sum(f.batches)::int AS batches, max(f.newest) AS newest
  FROM finest f CROSS JOIN widths l
  GROUP BY 1, 2, 3, 4, 5
)
SELECT k.name, k.bin_start, k.batches, k.newest
FROM bins k
WHERE k.bin_start >= k.s AND k.bin_start + k.width <= k.e
"""


def usable_batch_bins(
    session: Session,
    contract_id: str,
    ranges: Sequence[tuple[datetime, datetime]],
    widths: Sequence[tuple[str, int]],
    origin: datetime,
) -> list[Any]:
    """Every whole bin inside the ranges that holds usable batches, for each (name, width in
    seconds) of `widths` (finest first, each a multiple of the first), bins aligned on
    `origin`: named tuples (`name`, `bin_start`, `batches`, `newest` arrival)."""
    if not ranges or not widths:
        return []
    params = {**_range_params(contract_id, ranges), "origin": origin}
    return fetch_binary(session, _bins_sql(widths), params, named=True)


def _epoch_us(column: Any) -> ColumnElement[int]:
    """Microseconds since the epoch, computed in SQL so no Python loop converts datetimes."""
    return cast(func.floor(func.extract("epoch", column) * _US), BigInteger)


def batch_status_events(
    session: Session, contract_id: str, good_statuses: Sequence[str], start: datetime, end: datetime
) -> tuple[Sequence[int] | None, Sequence[bool] | None]:
    """Arrivals in (start, end] (µs since the epoch, sorted) and whether each batch's status
    is good, as two Postgres arrays in one row (None when there is none): 43,200 batches
    arrive as two arrays instead of 43,200 row objects."""
    t = _epoch_us(Batch.received_at)
    row = session.execute(
        select(
            func.array_agg(aggregate_order_by(t, t)),
            func.array_agg(aggregate_order_by(Batch.status.in_(good_statuses), t)),
        ).where(
            Batch.contract_id == contract_id, Batch.received_at > start, Batch.received_at <= end
        )
    ).one()
    return row[0], row[1]


def _with_event_times(contract_id: str) -> tuple[Any, ...]:
    return (
        Batch.contract_id == contract_id,
        Batch.status != "rejected",
        Batch.newest_event_at.is_not(None),
    )


def newest_event_known_at(session: Session, contract_id: str, at: datetime) -> int | None:
    """The newest event time (µs) of the data accepted by `at` (batches not rejected)."""
    stmt = select(func.max(_epoch_us(Batch.newest_event_at))).where(
        *_with_event_times(contract_id), Batch.received_at <= at
    )
    found = session.scalar(stmt)
    return int(found) if found is not None else None


def newest_events_by_arrival(
    session: Session, contract_id: str, start: datetime, end: datetime
) -> tuple[Sequence[int] | None, Sequence[int] | None]:
    """Arrivals in (start, end] of batches not rejected (µs, sorted) and each one's newest
    event time (µs), as two arrays (None when there is none)."""
    t = _epoch_us(Batch.received_at)
    row = session.execute(
        select(
            func.array_agg(aggregate_order_by(t, t)),
            func.array_agg(aggregate_order_by(_epoch_us(Batch.newest_event_at), t)),
        ).where(
            *_with_event_times(contract_id), Batch.received_at > start, Batch.received_at <= end
        )
    ).one()
    return row[0], row[1]


def batches_not_in_statuses(
    session: Session,
    contract_id: str,
    statuses: Sequence[str],
    start: datetime,
    end: datetime,
    *,
    limit: int,
) -> list[Any]:
    """(id, status, received_at) of the newest `limit` batches received in (start, end] whose
    status is none of `statuses`, newest first."""
    stmt = (
        select(Batch.id, Batch.status, Batch.received_at)
        .where(
            Batch.contract_id == contract_id,
            Batch.received_at > start,
            Batch.received_at <= end,
            Batch.status.not_in(statuses),
        )
        .order_by(Batch.received_at.desc())
        .limit(limit)
    )
    return list(session.execute(stmt).all())


def batch_totals_by_status(session: Session, since: datetime) -> list[Any]:
    """Per status: (status, batches, rows received, accepted, quarantined, and rows received
    and quarantined since `since`)."""
    return list(
        session.execute(
            select(
                Batch.status,
                func.count(),
                func.coalesce(func.sum(Batch.rows_received), 0),
                func.coalesce(func.sum(Batch.rows_accepted), 0),
                func.coalesce(func.sum(Batch.rows_quarantined), 0),
                func.coalesce(func.sum(Batch.rows_received).filter(Batch.received_at >= since), 0),
                func.coalesce(
                    func.sum(Batch.rows_quarantined).filter(Batch.received_at >= since), 0
                ),
            ).group_by(Batch.status)
        ).all()
    )
