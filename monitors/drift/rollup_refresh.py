"""Keeping the profile rollups current: bounded per run, newest first, coarse from fine.

Every whole hour, 6 hours, day and week of the range with its batch count and newest arrival
(counted by checks' repository) is checked against its rollups (`bucket_states`); an hour
counts as done only once it was merged from its 10-minute rollups. The newest stale hours whose
batches add up to `max_batches` (at least one), and the hour still running, are looked at more
closely: their whole minutes and 10 minutes are listed the same way. Stale minutes are rebuilt
from their batches' stored profiles (the only place a batch's JSON profile is read), then stale
10 minutes whose minutes are all current are merged from those rollups, hours from their 10
minutes, 6 hours from their hours, days from their 6 hours and weeks from their days.
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
from typing import Any, NamedTuple

from sqlalchemy.orm import Session

from checks import repository as checks_repository
from core.clock import utcnow
from monitors.drift import repository
from monitors.drift.buckets import (
    EPOCH,
    HOUR,
    LEVELS,
    MINUTE,
    NAMES,
    SUB_HOUR,
    Bucket,
    align,
    end_of,
)
from monitors.drift.profiles import FieldProfile
from monitors.drift.rollups import (
    ABSENT,
    BucketIndex,
    Stat,
    batch_profiles,
    merge_parts,
    valid_rollups,
)
from monitors.drift.sketch_codec import encode

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
    """Rebuild stale rollups of whole buckets in [start, min(end, now))."""
    now = utcnow()
    end = min(end, now)
    if not fields or start >= end:
        return Refreshed(0, 0)
    rows = bucket_states(session, contract_id, fields, [(start, end)])
    hours = _newest_within(
        sorted(
            (r for r in rows if r.level == "hour" and not r.current), key=lambda r: r.bucket_start
        ),
        max_batches,
    )
    running = max(start, align(end, HOUR))  # the hour still running: its minutes so far
    spans = [(h, h + HOUR) for h in hours] + ([(running, end)] if running < end else [])
    rows += bucket_states(session, contract_id, fields, spans, sub_hour=True)
    index = BucketIndex.of_stats({(r.level, r.bucket_start): (r.batches, r.newest) for r in rows})
    done = {(r.level, r.bucket_start) for r in rows if r.current}
    stale = [k for k in index.stats if k not in done]
    if not stale:
        return Refreshed(0, 0)
    minutes = [k for k in stale if k[0] == NAMES[0]]
    built = _build_minutes(session, contract_id, fields, minutes, now)
    done.update(minutes)
    for level in NAMES[1:]:
        ready = [
            k
            for k in stale
            if k[0] == level and index.children(k) and all(c in done for c in index.children(k))
        ]
        made = _build_from_finer(session, contract_id, fields, ready, index, now)
        done.update(made)
        built += len(made)
    return Refreshed(built, sum(1 for k in stale if k not in done))


class BucketState(NamedTuple):
    level: str
    bucket_start: datetime
    batches: int
    newest: datetime  # the newest arrival of its batches
    current: bool  # its rollups match its batches for every field


_COARSE = tuple((n, int(length.total_seconds())) for n, length in LEVELS if n not in SUB_HOUR)
_FINE = tuple((n, int(length.total_seconds())) for n, length in LEVELS if n in SUB_HOUR)


def bucket_states(
    session: Session,
    contract_id: str,
    fields: Sequence[str],
    ranges: Sequence[tuple[datetime, datetime]],
    *,
    sub_hour: bool = False,
) -> list[BucketState]:
    """Every whole bucket inside the ranges with usable batches, of the hour, 6-hour, day and
    week levels (or, with `sub_hour`, of the minute and 10-minute levels), and whether its
    rollups are current for every field."""
    bins = checks_repository.usable_batch_bins(
        session, contract_id, ranges, _FINE if sub_hour else _COARSE, EPOCH
    )
    labels = [((b.name, b.bin_start), int(b.batches), b.newest) for b in bins]
    current = repository.rollups_current(session, contract_id, labels, fields)
    return [
        BucketState(key[0], key[1], n, newest, ok)
        for (key, n, newest), ok in zip(labels, current, strict=True)
    ]


def _newest_within(hours: list[Any], max_batches: int) -> list[datetime]:
    """Starts of the newest stale hours whose batches add up to `max_batches` (at least one)."""
    chosen: list[datetime] = []
    total = 0
    for r in reversed(hours):
        if chosen and total + r.batches > max_batches:
            break
        chosen.append(r.bucket_start)
        total += r.batches
    return chosen


def _build_minutes(
    session: Session,
    contract_id: str,
    fields: Sequence[str],
    minutes: list[Bucket],
    now: datetime,
) -> int:
    """Each stale minute merged from its batches' stored profiles."""
    if not minutes:
        return 0
    spans = [(k[1], end_of(k)) for k in sorted(minutes, key=lambda k: k[1])]
    batches = checks_repository.usable_batches_in(session, contract_id, spans)
    members: dict[Bucket, list[Any]] = {}
    for b in batches:
        members.setdefault((NAMES[0], align(b.received_at, MINUTE)), []).append(b)
    profiles = batch_profiles(session, [b.id for b in batches], fields)
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
                "categories": p.categories.to_json() if p.categories is not None else None,
                "batches": stat[0],
                "last_received_at": stat[1],
                "computed_at": now,
            }
        )
    return out
