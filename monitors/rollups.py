"""Hourly and daily profile rollups, so a long drift window reads a few rows per field.

A window [start, end) is planned as whole days, then whole hours, then partial-hour edges.
Each day or hour whose rollup is still valid (same batch count and newest arrival as the
batches table says now) contributes one pre-merged profile per field; everything else falls
back to the batches' own stored profiles. Rollups are a cache the runner maintains
(`refresh`): a window evaluated without them gives the same result, only slower.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import select, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from checks.sketch import Sketch
from core.clock import utcnow
from monitors import repository
from monitors.models import ProfileRollup
from monitors.profiles import (
    FieldProfile,
    merge_batch_profiles,
    merge_field_profiles,
    sketch_from_text,
)

HOUR, DAY = timedelta(hours=1), timedelta(days=1)
LEVELS = {"hour": HOUR, "day": DAY}
Bucket = tuple[str, datetime]


def _align(moment: datetime, length: timedelta) -> datetime:
    from monitors.service import align

    return align(moment, length)


@dataclass(frozen=True)
class Plan:
    """How a window is read: whole days and hours from rollups, edges from batch profiles."""

    buckets: list[Bucket]

    def bucket_of(self, batch: Any) -> Bucket | None:
        """The day or hour of this plan that holds the batch (its SQL-computed buckets)."""
        for candidate in (("day", batch.day), ("hour", batch.hour)):
            if candidate in self._set:
                return candidate
        return None

    @property
    def _set(self) -> set[Bucket]:
        cached = self.__dict__.get("_cached_set")
        if cached is None:
            cached = set(self.buckets)
            object.__setattr__(self, "_cached_set", cached)
        return cached


def plan(start: datetime, end: datetime) -> Plan:
    cursor = _align(start, HOUR)
    if cursor < start:
        cursor += HOUR
    buckets: list[Bucket] = []
    while cursor + HOUR <= end:
        if cursor == _align(cursor, DAY) and cursor + DAY <= end:
            buckets.append(("day", cursor))
            cursor += DAY
        else:
            buckets.append(("hour", cursor))
            cursor += HOUR
    return Plan(buckets)


def bucket_stats(batches: Iterable[Any]) -> dict[Bucket, tuple[int, datetime]]:
    """(batch count, newest arrival) per hour and per day, from batch metadata."""
    out: dict[Bucket, tuple[int, datetime]] = {}
    for b in batches:
        for key in (("hour", b.hour), ("day", b.day)):
            n, newest = out.get(key, (0, b.received_at))
            out[key] = (n + 1, max(newest, b.received_at))
    return out


def encode(sketch: Sketch) -> tuple[bytes, bytes]:
    return sketch.keys.astype("<i8").tobytes(), sketch.counts.astype("<i8").tobytes()


def decode(keys: bytes, counts: bytes) -> Sketch:
    return Sketch(np.frombuffer(keys, dtype="<i8"), np.frombuffer(counts, dtype="<i8"))


def valid_rollups(
    session: Session,
    contract_id: str,
    buckets: Sequence[Bucket],
    stats: dict[Bucket, tuple[int, datetime]],
    fields: Sequence[str],
) -> dict[Bucket, dict[str, FieldProfile]]:
    """The rollups of these buckets that still match the batches, with every field present."""
    wanted = [b for b in buckets if b in stats]
    if not wanted or not fields:
        return {}
    r = ProfileRollup
    rows = session.execute(
        select(
            r.level,
            r.bucket_start,
            r.field,
            r.type,
            r.count,
            r.nulls,
            r.sketch_keys,
            r.sketch_counts,
            r.categories,
            r.batches,
            r.last_received_at,
        ).where(
            r.contract_id == contract_id,
            tuple_(r.level, r.bucket_start).in_(wanted),
            r.field.in_(fields),
        )
    ).all()
    found: dict[Bucket, dict[str, FieldProfile]] = {}
    for row in rows:
        key = (row.level, row.bucket_start)
        if (row.batches, row.last_received_at) != stats[key]:
            continue
        found.setdefault(key, {})[row.field] = _profile(row)
    return {k: v for k, v in found.items() if len(v) == len(fields)}


def current_buckets(
    session: Session,
    contract_id: str,
    buckets: Sequence[Bucket],
    stats: dict[Bucket, tuple[int, datetime]],
    fields: Sequence[str],
) -> set[Bucket]:
    """Buckets whose rollups match the batches for every field (metadata only, no sketches)."""
    if not buckets or not fields:
        return set()
    r = ProfileRollup
    rows = session.execute(
        select(r.level, r.bucket_start, r.batches, r.last_received_at).where(
            r.contract_id == contract_id,
            r.bucket_start >= min(b[1] for b in buckets),
            r.field.in_(fields),
        )
    ).all()
    matching: dict[Bucket, int] = {}
    for row in rows:
        key = (row.level, row.bucket_start)
        if key in stats and (row.batches, row.last_received_at) == stats[key]:
            matching[key] = matching.get(key, 0) + 1
    return {k for k in buckets if matching.get(k) == len(fields)}


def _profile(r: Any) -> FieldProfile:
    sketch = None
    if r.sketch_keys is not None and r.sketch_counts is not None:
        sketch = decode(r.sketch_keys, r.sketch_counts)
    return FieldProfile(r.type, r.count, r.nulls, sketch=sketch, categories=r.categories)


def batch_profiles(
    session: Session, batch_ids: Sequence[uuid.UUID], fields: Sequence[str]
) -> dict[uuid.UUID, dict[str, FieldProfile]]:
    """Each batch's stored profile per field, with sketches parsed by numpy."""
    out: dict[uuid.UUID, dict[str, FieldProfile]] = {}
    for r in repository.split_profiles_of(session, batch_ids, fields):
        doc = dict(r.meta)
        if r.sketch_keys is not None:
            doc["sketch"] = sketch_from_text(r.sketch_keys, r.sketch_counts, r.sketch_sub_bits)
        merged = merge_batch_profiles([doc])
        if merged is not None:
            out.setdefault(r.batch_id, {})[r.field] = merged
    return out


def merge_parts(parts: Iterable[dict[str, FieldProfile]]) -> dict[str, FieldProfile]:
    grouped: dict[str, list[FieldProfile]] = {}
    for part in parts:
        for name, profile in part.items():
            grouped.setdefault(name, []).append(profile)
    out = {}
    for name, profiles in grouped.items():
        merged = merge_field_profiles(profiles)
        if merged is not None:
            out[name] = merged
    return out


def refresh(
    session: Session,
    *,
    contract_id: str,
    fields: Sequence[str],
    start: datetime,
    end: datetime,
) -> int:
    """(Re)compute the rollups of completed hours and days in [start, end) that are stale."""
    batches = repository.batches_between(session, contract_id, start, end)
    stats = bucket_stats(batches)
    now = utcnow()
    complete = [k for k in stats if k[1] + LEVELS[k[0]] <= min(end, now) and k[1] >= start]
    fresh = current_buckets(session, contract_id, complete, stats, fields)
    stale = [k for k in complete if k not in fresh]
    if not stale:
        return 0
    members: dict[Bucket, list[uuid.UUID]] = {}
    for b in batches:
        for key in (("hour", b.hour), ("day", b.day)):
            if key in stale:
                members.setdefault(key, []).append(b.id)
    ids = list(dict.fromkeys(i for ids in members.values() for i in ids))
    profiles = batch_profiles(session, ids, fields)
    rows = [
        _values(contract_id, key, name, p, stats[key], now)
        for key, bucket_ids in members.items()
        for name, p in merge_parts(profiles.get(i, {}) for i in bucket_ids).items()
    ]
    if not rows:
        return len(stale)
    stmt = insert(ProfileRollup)
    keys = ("contract_id", "level", "bucket_start", "field")
    session.execute(  # one executemany, not one round trip per field and bucket
        stmt.on_conflict_do_update(
            index_elements=list(keys),
            set_={c: stmt.excluded[c] for c in rows[0] if c not in keys},
        ),
        rows,
    )
    return len(stale)


def _values(
    contract_id: str,
    key: Bucket,
    name: str,
    p: FieldProfile,
    stat: tuple[int, datetime],
    now: datetime,
) -> dict[str, Any]:
    keys, counts = encode(p.sketch) if p.sketch is not None else (None, None)
    return {
        "contract_id": contract_id,
        "level": key[0],
        "bucket_start": key[1],
        "field": name,
        "type": p.type,
        "count": p.count,
        "nulls": p.nulls,
        "sketch_keys": keys,
        "sketch_counts": counts,
        "categories": p.categories,
        "batches": stat[0],
        "last_received_at": stat[1],
        "computed_at": now,
    }
