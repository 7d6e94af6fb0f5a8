"""Reading drift windows through hourly, 6-hourly, daily and weekly profile rollups.

A window [start, end) is tiled by whole weeks, days, 6 hours and hours (`monitors.buckets.tile`);
the batches in the parts of hours at its edges are read one by one. Each bucket whose rollup is
still valid (same batch count and newest arrival as the batches table says now) contributes
one pre-merged profile per field; a bucket without a valid rollup is replaced by its finer
buckets (a week by its days, a day by its 6 hours, those by their hours), and an hour without
one by its batches' own stored profiles. Rollups are a cache the runner maintains
(`monitors.rollup_refresh`): a window evaluated without them gives the same result, only slower.
"""

from __future__ import annotations

import uuid
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.orm import Session

from monitors import repository
from monitors.buckets import LENGTH, Bucket, align, coarser, end_of, finer
from monitors.profiles import (
    FieldProfile,
    merge_batch_profiles,
    merge_field_profiles,
    sketch_from_text,
)
from monitors.sketch_codec import decode

ABSENT = "absent"  # the type of a rollup row for a field no batch of the bucket profiled
Stat = tuple[int, datetime]  # (batch count, newest arrival) of a bucket


class Buckets(Protocol):
    """What reading rollups needs to know about buckets: their batches, and their parts."""

    def stat(self, bucket: Bucket) -> Stat | None:
        """(batch count, newest arrival) now, or None when no batch is in it."""

    def children(self, bucket: Bucket) -> list[Bucket]:
        """Its buckets of the next finer level that hold batches, oldest first."""


@dataclass
class BucketIndex:
    """Buckets from their stats (e.g. `repository.rollup_buckets`), each with its parts."""

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

    def stat(self, bucket: Bucket) -> Stat | None:
        return self.stats.get(bucket)

    def children(self, bucket: Bucket) -> list[Bucket]:
        return self.parts.get(bucket, [])


@dataclass(frozen=True)
class Timeline:
    """The arrival times of a range's batches, oldest first: any bucket's batches, count and
    newest arrival by binary search, with no pass over the batches per bucket or level."""

    arrivals: list[datetime]

    def span(self, start: datetime, end: datetime) -> tuple[int, int]:
        """Positions [lo, hi) of the batches that arrived in [start, end)."""
        return bisect_left(self.arrivals, start), bisect_left(self.arrivals, end)

    def stat(self, bucket: Bucket) -> Stat | None:
        lo, hi = self.span(bucket[1], end_of(bucket))
        return (hi - lo, self.arrivals[hi - 1]) if hi > lo else None

    def children(self, bucket: Bucket) -> list[Bucket]:
        level = finer(bucket[0])
        if level is None:
            return []
        step = LENGTH[level]
        starts = (bucket[1] + i * step for i in range(LENGTH[bucket[0]] // step))
        return [(level, s) for s in starts if self.stat((level, s)) is not None]

    def uncovered(self, lo: int, hi: int, used: Iterable[Bucket]) -> list[int]:
        """Positions in [lo, hi) of the batches in none of the `used` buckets (disjoint)."""
        out: list[int] = []
        cursor = lo
        for a, b in sorted(self.span(u[1], end_of(u)) for u in used):
            out.extend(range(cursor, a))
            cursor = max(cursor, b)
        out.extend(range(cursor, hi))
        return out


def valid_rollups(
    session: Session,
    contract_id: str,
    buckets: Sequence[Bucket],
    index: Buckets,
    fields: Sequence[str],
) -> dict[Bucket, dict[str, FieldProfile]]:
    """The rollups of these buckets that still match the batches, with every field present."""
    stats = {b: stat for b in buckets if (stat := index.stat(b)) is not None}
    found: dict[Bucket, dict[str, FieldProfile]] = {}
    complete: dict[Bucket, int] = {}
    rows = repository.rollup_rows(session, contract_id, list(stats), fields)
    for level, start, name, kind, count, nulls, sketch, cats, batches, newest in rows:
        key = (level, start)
        if (batches, newest) != stats[key]:
            continue
        complete[key] = complete.get(key, 0) + 1
        profiles = found.setdefault(key, {})
        if kind != ABSENT:
            decoded = decode(sketch) if sketch is not None else None
            profiles[name] = FieldProfile(kind, count, nulls, sketch=decoded, categories=cats)
    return {k: v for k, v in found.items() if complete[k] == len(fields)}


def cover(
    session: Session,
    contract_id: str,
    buckets: Sequence[Bucket],
    index: Buckets,
    fields: Sequence[str],
) -> dict[Bucket, dict[str, FieldProfile]]:
    """Valid rollups for these buckets, descending to finer buckets where one is missing.

    One query per level at most; when every rollup is current it is a single query.
    """
    found: dict[Bucket, dict[str, FieldProfile]] = {}
    pending = list(buckets)
    while pending and fields:
        found.update(valid_rollups(session, contract_id, pending, index, fields))
        pending = [c for b in pending if b not in found for c in index.children(b)]
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
