"""Seasonal references: compare a window with the reference's batches from the same hours.

Pure, no I/O. Traffic with a daily rhythm (fewer requests at night, another mix of users in
the evening) reads as drift when an hour is compared with a whole day. With
`monitoring.reference.seasonality`, a reference also keeps the merged profile of each hour of
the day (`h00` .. `h23`, by batch arrival in UTC) or of each hour of each weekday (`d0h00` ..
`d6h23`, Monday first, plus the hours of the day as their fallback), and a window is compared
with the slices of the hours its batches arrived in. A slice with too little data falls back to
the coarser slice, then to the whole reference, and the window's answer says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

HOUR = timedelta(hours=1)
LEVELS = {"hour_of_week": ("hour_of_week", "hour_of_day"), "hour_of_day": ("hour_of_day",)}
SLICES_PER_LEVEL = {"hour_of_week": 168, "hour_of_day": 24}


@dataclass(frozen=True)
class Minimum:
    """Data a reference (or one of its slices) needs before it is used."""

    batches: int
    rows: int

    def met_by(self, batches: int, rows: int) -> bool:
        return batches >= self.batches and rows >= self.rows


@dataclass(frozen=True)
class SliceChoice:
    """The slices a window is compared with; no keys means the whole reference."""

    keys: tuple[str, ...]
    level: str  # hour_of_week | hour_of_day | whole
    batches: int
    rows: int
    fallback: str | None  # why a finer level was not used


def key_at(moment: datetime, level: str) -> str:
    hour = f"h{moment.hour:02d}"
    return f"d{moment.weekday()}{hour}" if level == "hour_of_week" else hour


def slice_keys(moment: datetime, seasonality: str) -> list[str]:
    """Every slice a batch that arrived at `moment` belongs to (finest first)."""
    return [key_at(moment, level) for level in LEVELS[seasonality]]


def hours_covered(first: datetime, last: datetime, limit: int = 169) -> list[datetime]:
    """The starts of the hours from `first`'s to `last`'s (at most `limit`)."""
    start = first.replace(minute=0, second=0, microsecond=0)
    count = min(int((last - start) // HOUR) + 1, limit)
    return [start + i * HOUR for i in range(max(count, 1))]


def choose(
    slices: Mapping[str, tuple[int, int]],
    seasonality: str | None,
    first: datetime | None,
    last: datetime | None,
    minimum: Minimum,
    whole: tuple[int, int],
) -> SliceChoice:
    """The slices of the hours a window's batches arrived in (`first` .. `last`), at the finest
    level whose every slice has `minimum` batches and rows (`slices`: key -> (batches, rows))."""
    if seasonality is None or first is None or last is None:
        return SliceChoice((), "whole", *whole, None)
    hours = hours_covered(first, last)
    reasons: list[str] = []
    for level in LEVELS[seasonality]:
        keys = sorted({key_at(h, level) for h in hours})
        if len(keys) >= SLICES_PER_LEVEL[level]:  # every hour: the whole reference is the same
            return SliceChoice((), "whole", *whole, None)
        short = [k for k in keys if not minimum.met_by(*slices.get(k, (0, 0)))]
        if not short:
            batches = sum(slices[k][0] for k in keys)
            rows = sum(slices[k][1] for k in keys)
            return SliceChoice(tuple(keys), level, batches, rows, "; ".join(reasons) or None)
        b, r = slices.get(short[0], (0, 0))
        reasons.append(
            f"{level} slice {short[0]} has {b} batches and {r:,} rows "
            f"(needs {minimum.batches} and {minimum.rows:,})"
        )
    return SliceChoice((), "whole", *whole, "; ".join(reasons))
