"""Epoch-aligned time buckets (minute, 10 minutes, hour, 6 hours, day, week) and how a window
is tiled by them.

Pure, no I/O. Each level divides the next (10 minutes, 6 of those an hour, 6 hours, 4 of those a
day, 7 days a week; weeks start on 1970-01-01, a Thursday), so a window [start, end) is covered,
left to right, by the largest bucket that starts at the cursor and still fits: minutes up to the
next 10-minute mark, 10 minutes up to the hour, hours up to the next 6-hour mark, 6 hours up to
midnight, days up to the week boundary, whole weeks, then back down at the other end. Any window
is then at most 2 x (9 + 5 + 5 + 3 + 6) buckets plus its whole weeks (4 when it is whole weeks),
however many batches it holds; only the parts of minutes at its edges are left over.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MINUTE, HOUR = timedelta(minutes=1), timedelta(hours=1)
DAY, WEEK = timedelta(days=1), timedelta(days=7)
# finest first; each length divides the next one
LEVELS: tuple[tuple[str, timedelta], ...] = (
    ("min", MINUTE),
    ("10m", 10 * MINUTE),
    ("hour", HOUR),
    ("6h", 6 * HOUR),
    ("day", DAY),
    ("week", WEEK),
)
LENGTH = dict(LEVELS)
NAMES = tuple(name for name, _ in LEVELS)
SUB_HOUR = ("min", "10m")  # levels finer than an hour
Bucket = tuple[str, datetime]  # (level, start)


def align(moment: datetime, length: timedelta) -> datetime:
    """The start of the epoch-aligned window of `length` holding `moment`."""
    step = int(length.total_seconds() * 1_000_000)
    offset = int((moment - EPOCH).total_seconds() * 1_000_000)
    return EPOCH + timedelta(microseconds=(offset // step) * step)


def end_of(bucket: Bucket) -> datetime:
    return bucket[1] + LENGTH[bucket[0]]


def finer(level: str) -> str | None:
    """The level just below `level` (None for minutes)."""
    i = NAMES.index(level)
    return NAMES[i - 1] if i > 0 else None


def coarser(level: str) -> str | None:
    """The level just above `level` (None for weeks)."""
    i = NAMES.index(level)
    return NAMES[i + 1] if i + 1 < len(NAMES) else None


def tile(start: datetime, end: datetime) -> list[Bucket]:
    """The fewest whole buckets covering [start, end) from its first to its last whole minute.

    Parts of minutes at either edge are not covered: their batches are read one by one.
    """
    cursor = align(start, MINUTE)
    if cursor < start:
        cursor += MINUTE
    out: list[Bucket] = []
    while cursor + MINUTE <= end:
        level, length = next(
            (name, length)
            for name, length in reversed(LEVELS)
            if align(cursor, length) == cursor and cursor + length <= end
        )
        out.append((level, cursor))
        cursor += length
    return out


def snap(
    start: datetime,
    end: datetime,
    *,
    before: datetime | None,
    first: datetime | None,
    last: datetime | None,
    after: datetime | None,
) -> tuple[datetime, datetime]:
    """The most aligned window that holds exactly the batches [start, end) holds.

    `first` and `last` are the arrivals of the window's first and last batch, `before` and
    `after` those of the nearest batches outside it (None when there are none). Any start in
    (before, first] and any end in (last, after] select the same batches, so each edge moves to
    the coarsest bucket boundary in that range: the window is then tiled by fewer, coarser
    buckets, and a batch alone near an edge is read from its bucket's rollup instead of its
    own profile. An edge with no batch beyond it stays where it is.
    """
    if first is None or last is None:
        return start, end
    new_start = _coarsest_boundary(before, first) if before is not None else None
    new_end = _coarsest_boundary(last, after) if after is not None else None
    return new_start or start, new_end or end


def _coarsest_boundary(low: datetime, high: datetime) -> datetime | None:
    """The boundary of the coarsest level in (low, high], if any level has one there."""
    for _, length in reversed(LEVELS):
        boundary = align(high, length)
        if boundary > low:
            return boundary
    return None


def containing(moment: datetime) -> Iterator[Bucket]:
    """The bucket of each level that holds `moment`, finest first."""
    for name, length in LEVELS:
        yield name, align(moment, length)
