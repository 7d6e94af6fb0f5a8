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

import itertools
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from monitors import repository
from monitors.buckets import LENGTH, NAMES, Bucket, align, coarser
from monitors.profiles import (
    FieldProfile,
    merge_batch_profiles,
    merge_field_profiles,
    sketch_from_text,
)
from monitors.sketch_codec import decode

ABSENT = "absent"  # the type of a rollup row for a field no batch of the bucket profiled
Stat = tuple[int, datetime]  # (batch count, newest arrival) of a bucket


@dataclass
class BucketIndex:
    """Batch count and newest arrival per bucket, and each bucket's finer buckets."""

    stats: dict[Bucket, Stat]
    children: dict[Bucket, list[Bucket]] = field(default_factory=dict)

    @classmethod
    def of_stats(cls, stats: dict[Bucket, Stat]) -> BucketIndex:
        children: dict[Bucket, list[Bucket]] = {}
        for key in sorted(stats, key=lambda k: k[1]):
            parent = coarser(key[0])
            if parent is not None:
                children.setdefault((parent, align(key[1], LENGTH[parent])), []).append(key)
        return cls(stats, children)

    @classmethod
    def of_batches(cls, batches: Iterable[Any]) -> BucketIndex:
        """From `repository.batches_between` rows: oldest first, with their bucket starts."""
        stats: dict[Bucket, Stat] = {}
        children: dict[Bucket, dict[Bucket, None]] = {}  # an ordered set per parent
        for b in batches:
            keys = [(level, start) for level, start in zip(NAMES, b[-len(NAMES) :], strict=True)]
            for key in keys:
                n = stats[key][0] if key in stats else 0
                stats[key] = (n + 1, b.received_at)  # oldest first: the last seen is the newest
            for child, parent in itertools.pairwise(keys):
                children.setdefault(parent, {})[child] = None
        return cls(stats, {k: list(v) for k, v in children.items()})


def valid_rollups(
    session: Session,
    contract_id: str,
    buckets: Sequence[Bucket],
    stats: dict[Bucket, Stat],
    fields: Sequence[str],
) -> dict[Bucket, dict[str, FieldProfile]]:
    """The rollups of these buckets that still match the batches, with every field present."""
    wanted = [b for b in buckets if b in stats]
    found: dict[Bucket, dict[str, FieldProfile]] = {}
    complete: dict[Bucket, int] = {}
    rows = repository.rollup_rows(session, contract_id, wanted, fields)
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
    index: BucketIndex,
    fields: Sequence[str],
) -> dict[Bucket, dict[str, FieldProfile]]:
    """Valid rollups for these buckets, descending to finer buckets where one is missing.

    One query per level at most; when every rollup is current it is a single query.
    """
    found: dict[Bucket, dict[str, FieldProfile]] = {}
    pending = [b for b in buckets if b in index.stats]
    while pending and fields:
        found.update(valid_rollups(session, contract_id, pending, index.stats, fields))
        pending = [c for b in pending if b not in found for c in index.children.get(b, [])]
    return found


def used_buckets(
    tiles: Iterable[Bucket], found: dict[Bucket, Any], index: BucketIndex
) -> set[Bucket]:
    """The buckets a window reads from rollups: each tile, or else its finer covered parts."""
    used: set[Bucket] = set()
    stack = list(tiles)
    while stack:
        bucket = stack.pop()
        if bucket in found:
            used.add(bucket)
        else:
            stack.extend(index.children.get(bucket, []))
    return used


def is_covered(batch: Any, used: set[Bucket]) -> bool:
    """Whether a `repository.batches_between` row lies in one of these buckets."""
    return not used.isdisjoint(zip(NAMES, batch[-len(NAMES) :], strict=True))


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
