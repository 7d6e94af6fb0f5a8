"""Keeping the profile rollups current: bounded per run, newest first, coarse from fine.

One query finds every whole hour, 6 hours, day and week of the range with its batch count,
newest arrival and whether its rollups still match (`repository.rollup_buckets`). Stale hours
are rebuilt from their batches' stored profiles, newest first, until `max_batches` batch
profiles have been read; then every stale 6 hours whose hours are all current is merged from
their rollups, every stale day from its 6-hour rollups and every stale week from its days.
Whatever is left waits for the next run, so a first build over weeks of history is spread over
several short runs instead of one long transaction; windows read meanwhile fall back to finer
rollups or batch profiles, with the same results. Every row is labelled with the batch count
and newest arrival of exactly the batches (or finer rollups) it was merged from, so a row built
from an outdated view is simply stale at the next read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from core.clock import utcnow
from monitors import repository
from monitors.buckets import HOUR, NAMES, Bucket
from monitors.profiles import FieldProfile
from monitors.rollups import (
    ABSENT,
    BucketIndex,
    Stat,
    Timeline,
    batch_profiles,
    merge_parts,
    valid_rollups,
)
from monitors.sketch_codec import encode

# ~1.5 s a run for 10,000-row batches on the 2-core reference VM (docs/benchmarks.md)
MAX_BATCHES_PER_REFRESH = 240


@dataclass(frozen=True)
class Refreshed:
    built: int  # buckets (re)written by this run
    left: int  # stale buckets left for the next runs


def refresh(
    session: Session,
    *,
    contract_id: str,
    fields: Sequence[str],
    start: datetime,
    end: datetime,
    max_batches: int = MAX_BATCHES_PER_REFRESH,
) -> Refreshed:
    """Rebuild stale rollups of whole hours, days and weeks in [start, min(end, now))."""
    now = utcnow()
    rows = repository.rollup_buckets(session, contract_id, fields, start, min(end, now))
    index = BucketIndex.of_stats({(r.level, r.bucket_start): (r.batches, r.newest) for r in rows})
    done = {(r.level, r.bucket_start) for r in rows if r.current}
    stale = [k for k in index.stats if k not in done]
    if not stale or not fields:
        return Refreshed(0, len(stale))
    hours = _newest_within(
        sorted((k for k in stale if k[0] == NAMES[0]), key=lambda k: k[1]), index, max_batches
    )
    built = _build_hours(session, contract_id, fields, hours, now)
    done.update(hours)
    for level in NAMES[1:]:
        ready = [k for k in stale if k[0] == level and all(c in done for c in index.children(k))]
        made = _build_from_finer(session, contract_id, fields, ready, index, now)
        done.update(made)
        built += len(made)
    return Refreshed(built, sum(1 for k in stale if k not in done))


def _newest_within(hours: list[Bucket], index: BucketIndex, max_batches: int) -> list[Bucket]:
    """The newest stale hours whose batches add up to `max_batches` (at least one hour)."""
    chosen: list[Bucket] = []
    total = 0
    for key in reversed(hours):
        n = index.stats[key][0]
        if chosen and total + n > max_batches:
            break
        chosen.append(key)
        total += n
    return chosen


def _build_hours(
    session: Session, contract_id: str, fields: Sequence[str], hours: list[Bucket], now: datetime
) -> int:
    if not hours:
        return 0
    first, last = min(k[1] for k in hours), max(k[1] for k in hours)
    batches = repository.batches_between(session, contract_id, first, last + HOUR)
    timeline = Timeline([b.received_at for b in batches])
    members = {}
    for key in hours:
        lo, hi = timeline.span(key[1], key[1] + HOUR)
        if hi > lo:
            members[key] = batches[lo:hi]
    profiles = batch_profiles(session, [b.id for ms in members.values() for b in ms], fields)
    rows = []
    for key, ms in members.items():
        merged = merge_parts(profiles.get(b.id, {}) for b in ms)
        stat = (len(ms), ms[-1].received_at)  # oldest first
        rows += _rows(contract_id, key, fields, merged, stat, now)
    repository.upsert_rollups(session, rows)
    return len(members)


def _build_from_finer(
    session: Session,
    contract_id: str,
    fields: Sequence[str],
    parents: list[Bucket],
    index: BucketIndex,
    now: datetime,
) -> list[Bucket]:
    """Merge each parent from its finer rollups (all of them valid, else it waits)."""
    if not parents:
        return []
    children = [c for p in parents for c in index.children(p)]
    found = valid_rollups(session, contract_id, children, index, fields)
    rows: list[dict[str, Any]] = []
    made = []
    for parent in parents:
        parts = index.children(parent)
        if not parts or any(c not in found for c in parts):
            continue
        merged = merge_parts(found[c] for c in parts)
        stat = (
            sum(index.stats[c][0] for c in parts),
            max(index.stats[c][1] for c in parts),
        )
        rows += _rows(contract_id, parent, fields, merged, stat, now)
        made.append(parent)
    repository.upsert_rollups(session, rows)
    return made


def _rows(
    contract_id: str,
    key: Bucket,
    fields: Sequence[str],
    merged: dict[str, FieldProfile],
    stat: Stat,
    now: datetime,
) -> list[dict[str, Any]]:
    """One row per monitored field; a field no batch profiled is an `absent` row."""
    out = []
    for name in fields:
        p = merged.get(name) or FieldProfile(ABSENT, 0, 0)
        out.append(
            {
                "contract_id": contract_id,
                "level": key[0],
                "bucket_start": key[1],
                "field": name,
                "type": p.type,
                "count": p.count,
                "nulls": p.nulls,
                "sketch": encode(p.sketch) if p.sketch is not None else None,
                "categories": p.categories,
                "batches": stat[0],
                "last_received_at": stat[1],
                "computed_at": now,
            }
        )
    return out
