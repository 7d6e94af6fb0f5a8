"""How a window is tiled by epoch-aligned minutes, 10 minutes, hours, 6 hours, days and weeks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from monitors.drift.buckets import (
    EPOCH,
    LENGTH,
    LEVELS,
    MINUTE,
    WEEK,
    align,
    containing,
    snap,
    tile,
)

T0 = datetime(2026, 11, 2, tzinfo=UTC)  # a Monday; epoch weeks start on Thursdays


def test_a_window_is_tiled_by_minutes_10_minutes_hours_6_hours_days_and_back() -> None:
    start = T0 + timedelta(hours=22, minutes=27, seconds=30)
    got = tile(start, start + timedelta(days=2))
    day2 = T0 + timedelta(days=2)
    assert got == [
        *[("min", T0 + timedelta(hours=22, minutes=m)) for m in (28, 29)],
        *[("10m", T0 + timedelta(hours=22, minutes=m)) for m in (30, 40, 50)],
        ("hour", T0 + timedelta(hours=23)),
        ("day", T0 + timedelta(days=1)),
        ("6h", day2),
        ("6h", day2 + timedelta(hours=6)),
        ("6h", day2 + timedelta(hours=12)),
        *[("hour", day2 + timedelta(hours=h)) for h in (18, 19, 20, 21)],
        *[("10m", day2 + timedelta(hours=22, minutes=m)) for m in (0, 10)],
        *[("min", day2 + timedelta(hours=22, minutes=m)) for m in range(20, 27)],
    ]  # [22:27:00, 22:27:30) at the end is part of a minute: its batches are read alone


def test_weeks_start_on_the_epoch_so_thirty_aligned_days_are_four_weeks_and_two_days() -> None:
    start = datetime(2026, 10, 1, tzinfo=UTC)  # a Thursday, 2961 weeks after the epoch
    assert align(start, WEEK) == start
    got = tile(start, start + timedelta(days=30))
    assert [level for level, _ in got] == ["week"] * 4 + ["day"] * 2


def test_a_window_under_an_hour_is_tiled_by_minutes_and_10_minutes_and_parts_of_one_not() -> None:
    assert tile(T0 + timedelta(minutes=7, seconds=30), T0 + timedelta(minutes=52)) == [
        ("min", T0 + timedelta(minutes=8)),
        ("min", T0 + timedelta(minutes=9)),
        *[("10m", T0 + timedelta(minutes=m)) for m in (10, 20, 30, 40)],
        ("min", T0 + timedelta(minutes=50)),
        ("min", T0 + timedelta(minutes=51)),
    ]
    assert tile(T0 + timedelta(seconds=10), T0 + timedelta(seconds=70)) == []


moments = st.integers(min_value=0, max_value=90 * 24 * 3600).map(
    lambda s: T0 + timedelta(seconds=s)
)


@settings(max_examples=300, deadline=None)
@given(start=moments, seconds=st.integers(min_value=1, max_value=3600 * 24 * 45))
def test_tiles_cover_the_whole_minutes_of_a_window_exactly_with_the_largest_aligned_buckets(
    start: datetime, seconds: int
) -> None:
    end = start + timedelta(seconds=seconds)
    got = tile(start, end)
    first = align(start, MINUTE) + (MINUTE if align(start, MINUTE) < start else timedelta(0))
    last = align(end, MINUTE)
    if first >= last:
        assert got == []
        return
    cursor = first
    for level, bucket_start in got:
        length = LENGTH[level]
        assert bucket_start == cursor
        assert align(bucket_start, length) == bucket_start
        # greedy: no coarser level starts here and fits
        coarser = [n for n, ln in LEVELS if ln > length]
        assert not any(
            align(cursor, LENGTH[c]) == cursor and cursor + LENGTH[c] <= end for c in coarser
        )
        cursor += length
    assert cursor == last
    weeks = sum(1 for level, _ in got if level == "week")
    assert len(got) <= weeks + 2 * (9 + 5 + 5 + 3 + 6)


@given(moment=moments)
def test_each_level_holds_a_moment_in_exactly_one_aligned_bucket(moment: datetime) -> None:
    for level, bucket_start in containing(moment):
        assert bucket_start <= moment < bucket_start + LENGTH[level]
        assert (bucket_start - EPOCH) % LENGTH[level] == timedelta(0)


def test_a_window_snaps_to_the_coarsest_boundaries_between_its_batches_and_their_neighbours() -> (
    None
):
    at = [T0 + timedelta(hours=h, minutes=10) for h in range(8)]  # 00:10, 01:10, …
    start, end = T0 + timedelta(hours=2, minutes=20), T0 + timedelta(hours=5, minutes=20)
    got = snap(start, end, before=at[2], first=at[3], last=at[5], after=at[6])
    assert got == (T0 + timedelta(hours=3), T0 + timedelta(hours=6))  # 6:00 is a 6-hour mark
    # no batch beyond an edge: that edge stays; no batch inside: nothing moves
    assert snap(start, end, before=None, first=at[3], last=at[5], after=None) == (start, end)
    assert snap(start, end, before=at[2], first=None, last=None, after=at[6]) == (start, end)
    # neighbours less than a minute apart leave no boundary to move to
    close = T0 + timedelta(minutes=1, seconds=10)
    assert (
        snap(
            close,
            end,
            before=close - timedelta(seconds=5),
            first=close + timedelta(seconds=5),
            last=at[5],
            after=at[6],
        )[0]
        == close
    )


@settings(max_examples=300, deadline=None)
@given(
    arrivals=st.lists(st.integers(min_value=0, max_value=10 * 24 * 3600), max_size=40),
    edges=st.tuples(
        st.integers(min_value=0, max_value=10 * 24 * 3600),
        st.integers(min_value=1, max_value=10 * 24 * 3600),
    ),
)
def test_a_snapped_window_holds_exactly_the_same_batches(
    arrivals: list[int], edges: tuple[int, int]
) -> None:
    at = sorted(T0 + timedelta(seconds=s) for s in arrivals)
    start = T0 + timedelta(seconds=edges[0])
    end = start + timedelta(seconds=edges[1])
    inside = [t for t in at if start <= t < end]
    got = snap(
        start,
        end,
        before=max((t for t in at if t < start), default=None),
        first=inside[0] if inside else None,
        last=inside[-1] if inside else None,
        after=min((t for t in at if t >= end), default=None),
    )
    assert [t for t in at if got[0] <= t < got[1]] == inside
    for moved, edge in zip(got, (start, end), strict=True):
        assert moved == edge or align(moved, MINUTE) == moved
