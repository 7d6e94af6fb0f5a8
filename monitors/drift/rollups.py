"""Reading drift windows through profile rollups of minutes, 10 minutes, hours, 6 hours, days
and weeks.

A window [start, end) is tiled by whole weeks, days, 6 hours, hours, 10 minutes and minutes
(`buckets.tile`); the batches in the parts of minutes at its edges are read one by one.
Each bucket whose rollup is still valid (same batch count and newest arrival as the batches
table says now, counted in PostgreSQL: `LiveStats`) contributes one pre-merged profile per
field; a bucket without a valid rollup is replaced by its finer buckets (a week by its days, a
day by its 6 hours, and so on down to minutes), and a minute without one by its batches' own
stored profiles. Rollups are a cache the runner maintains (`rollup_refresh`): a window
evaluated without them gives the same result, only slower.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.orm import Session

from checks import repository as checks_repository
from checks.heavy_hitters import CategoryCounts
from monitors.drift import repository
from monitors.drift.buckets import LENGTH, Bucket, align, coarser, end_of, finer
from monitors.drift.profiles import (
    FieldProfile,
    merge_batch_profiles,
    merge_field_profiles,
    sketch_from_text,
)
from monitors.drift.sketch_codec import decode

ABSENT = "absent"  # the type of a rollup row for a field no batch of the bucket profiled
Stat = tuple[int, datetime]  # (batch count, newest arrival) of a bucket


class Buckets(Protocol):
    """What reading rollups needs to know about buckets: their batches, and their parts."""

    def load(self, buckets: Iterable[Bucket]) -> None:
        """Make sure the stats of these buckets are known (one query, or nothing)."""

    def stat(self, bucket: Bucket) -> Stat | None:
        """(batch count, newest arrival) now, or None when no batch is in it."""

    def children(self, bucket: Bucket) -> list[Bucket]:
        """Its buckets of the next finer level that hold batches, oldest first."""


@dataclass
class BucketIndex:
    """Buckets from their stats (e.g. `rollup_refresh.bucket_states`), each with its parts."""

    stats: dict[Bucket, Stat]
    parts: dict[Bucket, list[Bucket]] = field(default_factory=dict)

    @classmethod
    def of_stats(cls, stats: dict[Bucket, Stat]) -> BucketIndex:
        parts: dict[Bucket, list[Bucket]] = {}
        for key in sorted(stats, key=lambda k: k[1]):
            parent = coarser(key[0])
            if parent is not None:
                parts.setdefault((parent, align(key[1], LENGTH[parent])), []).append(key)
        return cls(stats, parts)

    def load(self, buckets: Iterable[Bucket]) -> None:
        return None  # every stat is known up front

    def stat(self, bucket: Bucket) -> Stat | None:
        return self.stats.get(bucket)

    def children(self, bucket: Bucket) -> list[Bucket]:
        return self.parts.get(bucket, [])


@dataclass(frozen=True)
class RangeStat:
    """Usable batches of a time range as the batches table says now."""

    batches: int
    newest: datetime | None
    first: datetime | None
    rows: int


class LiveStats:
    """Buckets' batch counts and newest arrivals, asked of PostgreSQL for just the buckets a
    read needs: one query for a window's tiles, one more per level it has to descend to."""

    def __init__(self, session: Session, contract_id: str) -> None:
        self.session, self.contract_id = session, contract_id
        self.ranges: dict[Bucket, RangeStat] = {}

    def load(self, buckets: Iterable[Bucket]) -> None:
        missing = sorted({b for b in buckets if b not in self.ranges}, key=lambda b: b[1])
        spans = [(b[1], end_of(b)) for b in missing]
        for key, r in zip(
            missing,
            checks_repository.usable_range_stats(self.session, self.contract_id, spans),
            strict=True,
        ):
            self.ranges[key] = RangeStat(int(r.batches), r.newest, r.first, int(r.rows))

    def stat(self, bucket: Bucket) -> Stat | None:
        r = self.ranges[bucket]
        return (r.batches, r.newest) if r.batches and r.newest is not None else None

    def children(self, bucket: Bucket) -> list[Bucket]:
        if bucket not in self.ranges or self.stat(bucket) is None:
            return []
        keys = parts_of(bucket)
        self.load(keys)
        return [k for k in keys if self.stat(k) is not None]


def parts_of(bucket: Bucket) -> list[Bucket]:
    """Every bucket of the next finer level inside `bucket`, oldest first."""
    level = finer(bucket[0])
    if level is None:
        return []
    step = LENGTH[level]
    return [(level, bucket[1] + i * step) for i in range(LENGTH[bucket[0]] // step)]


def gaps(start: datetime, end: datetime, used: Iterable[Bucket]) -> list[tuple[datetime, datetime]]:
    """The parts of [start, end) that none of the `used` (disjoint) buckets covers."""
    out = []
    cursor = start
    for b in sorted(used, key=lambda b: b[1]):
        if b[1] > cursor:
            out.append((cursor, b[1]))
        cursor = max(cursor, end_of(b))
    if cursor < end:
        out.append((cursor, end))
    return out


def valid_rollups(
    session: Session,
    contract_id: str,
    buckets: Sequence[Bucket],
    index: Buckets,
    fields: Sequence[str],
) -> dict[Bucket, dict[str, FieldProfile]]:
    """The rollups of these buckets that still match the batches, with every field present."""
    labelled = [(b, *stat) for b in buckets if (stat := index.stat(b)) is not None]
    found: dict[Bucket, dict[str, FieldProfile]] = {}
    complete: dict[Bucket, int] = {}
    rows = repository.rollup_rows(session, contract_id, labelled, fields)
    for i, name, kind, count, nulls, sketch, cats in rows:
        key = labelled[i - 1][0]
        complete[key] = complete.get(key, 0) + 1
        profiles = found.setdefault(key, {})
        if kind != ABSENT:
            decoded = decode(sketch) if sketch is not None else None
            counts = CategoryCounts.from_json(cats) if cats is not None else None
            profiles[name] = FieldProfile(kind, count, nulls, sketch=decoded, categories=counts)
    return {k: v for k, v in found.items() if complete[k] == len(fields)}


def cover(
    session: Session,
    contract_id: str,
    buckets: Sequence[Bucket],
    index: Buckets,
    fields: Sequence[str],
) -> dict[Bucket, dict[str, FieldProfile]]:
    """Valid rollups for these buckets, descending to finer buckets where one is missing.

    Two queries per level at most (stats, rollups); when every rollup is current, just two.
    """
    found: dict[Bucket, dict[str, FieldProfile]] = {}
    pending = list(buckets)
    while pending and fields:
        index.load(pending)
        found.update(valid_rollups(session, contract_id, pending, index, fields))
        missing = [b for b in pending if b not in found and index.stat(b) is not None]
        index.load(c for b in missing for c in parts_of(b))
        pending = [c for b in missing for c in index.children(b)]
    return found


def used_buckets(tiles: Iterable[Bucket], found: dict[Bucket, Any], index: Buckets) -> set[Bucket]:
    """The buckets a window reads from rollups: each tile, or else its finer covered parts."""
    used: set[Bucket] = set()
    stack = list(tiles)
    while stack:
        bucket = stack.pop()
        if bucket in found:
            used.add(bucket)
        else:
            stack.extend(index.children(bucket))
    return used


def batch_profiles(
    session: Session, batch_ids: Sequence[uuid.UUID], fields: Sequence[str]
) -> dict[uuid.UUID, dict[str, FieldProfile]]:
    """Each batch's stored profile per field, with sketches parsed by numpy."""
    out: dict[uuid.UUID, dict[str, FieldProfile]] = {}
    for r in checks_repository.split_column_profiles_of(session, batch_ids, fields):
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
