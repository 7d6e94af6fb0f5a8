"""How a window is tiled by epoch-aligned hours, 6 hours, days and weeks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from monitors.buckets import EPOCH, HOUR, LENGTH, LEVELS, WEEK, align, containing, tile

T0 = datetime(2026, 11, 2, tzinfo=UTC)  # a Monday; epoch weeks start on Thursdays


def test_a_window_is_tiled_by_hours_then_6_hours_then_days_and_back() -> None:
    start = T0 + timedelta(hours=22, minutes=30)
    got = tile(start, start + timedelta(days=2))
    assert got == [
        ("hour", T0 + timedelta(hours=23)),
        ("day", T0 + timedelta(days=1)),
        ("6h", T0 + timedelta(days=2)),
        ("6h", T0 + timedelta(days=2, hours=6)),
        ("6h", T0 + timedelta(days=2, hours=12)),
        *[("hour", T0 + timedelta(days=2, hours=h)) for h in (18, 19, 20, 21)],
    ]


def test_weeks_start_on_the_epoch_so_thirty_aligned_days_are_four_weeks_and_two_days() -> None:
    start = datetime(2026, 10, 1, tzinfo=UTC)  # a Thursday, 2961 weeks after the epoch
    assert align(start, WEEK) == start
    got = tile(start, start + timedelta(days=30))
    assert [level for level, _ in got] == ["week"] * 4 + ["day"] * 2


def test_a_window_shorter_than_an_hour_or_inside_one_has_no_tiles() -> None:
    assert tile(T0 + timedelta(minutes=10), T0 + timedelta(minutes=50)) == []
    assert tile(T0 + timedelta(minutes=10), T0 + timedelta(hours=1, minutes=50)) == []


moments = st.integers(min_value=0, max_value=90 * 24 * 60).map(lambda m: T0 + timedelta(minutes=m))


@settings(max_examples=300, deadline=None)
@given(start=moments, minutes=st.integers(min_value=1, max_value=60 * 24 * 45))
def test_tiles_cover_the_whole_hours_of_a_window_exactly_with_the_largest_aligned_buckets(
    start: datetime, minutes: int
) -> None:
    end = start + timedelta(minutes=minutes)
    got = tile(start, end)
    first = align(start, HOUR) + (HOUR if align(start, HOUR) < start else timedelta(0))
    last = align(end, HOUR)
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
    assert len(got) <= weeks + 2 * (5 + 3 + 6)


@given(moment=moments)
def test_each_level_holds_a_moment_in_exactly_one_aligned_bucket(moment: datetime) -> None:
    for level, bucket_start in containing(moment):
        assert bucket_start <= moment < bucket_start + LENGTH[level]
        assert (bucket_start - EPOCH) % LENGTH[level] == timedelta(0)
