"""Rollups are a cache: windows read through them equal windows read from batch profiles,
whatever state the cache is in (complete, half-built, stale), and refreshing it is bounded."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from contracts.service import add_version
from contracts.spec import ContractSpec
from core.auth import CLI_OPERATOR
from core.clock import SimulatedClock
from core.settings import Settings
from monitors.drift import rollups
from monitors.drift.buckets import tile
from monitors.drift.models import ProfileRollup
from monitors.drift.references import build_reference
from monitors.drift.rollup_refresh import refresh
from monitors.drift.service import drift_series, refresh_rollups
from tests.monitors.drift.test_drift import SHIFTED_MIX
from tests.monitors.factory import (
    START,
    batch_row,
    events_contract,
    frame,
    hourly,
    post,
    register,
    simulated,
)

FIELDS = ["x", "y", "n", "cat", "flag", "score"]


def _stats(series: dict[str, Any]) -> list[dict[str, tuple[str, float | None]]]:
    return [
        {k: (f["severity"], f["statistic"]) for k, f in w["fields"].items()}
        for w in series["windows"]
    ]


def _assert_same(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert [w["rows"] for w in a["windows"]] == [w["rows"] for w in b["windows"]]
    assert [w["batch_ids"] for w in a["windows"]] == [w["batch_ids"] for w in b["windows"]]
    for x, y in zip(_stats(a), _stats(b), strict=True):
        assert x.keys() == y.keys()
        for name in x:
            assert x[name][0] == y[name][0], name
            if x[name][1] is None or y[name][1] is None:
                assert x[name][1] == y[name][1], name
            else:
                assert x[name][1] == pytest.approx(y[name][1], rel=1e-9, abs=1e-12), name


def _series(db: Session, settings: Settings, start: datetime, end: datetime) -> dict[str, Any]:
    """One window [start, end) (any length, not aligned to anything)."""
    seconds = int((end - start).total_seconds())
    return drift_series(
        db,
        dataset="events",
        window=f"PT{seconds}S",
        start=start,
        end=end,
        count=1,
        settings=settings,
    )


def _levels(db: Session) -> dict[str, int]:
    rows = db.execute(
        select(ProfileRollup.level, func.count(func.distinct(ProfileRollup.bucket_start))).group_by(
            ProfileRollup.level
        )
    )
    return {level: n for level, n in rows}


def every(
    db: Session, clock: SimulatedClock, data_dir: Path, n: int, step: timedelta, **shape: Any
) -> None:
    """`n` batches, one every `step` (posted 10 minutes into it), advancing the clock."""
    for i in range(n):
        clock.advance(timedelta(minutes=10))
        post(db, frame(300, seed=7_000 + i, at=clock.now(), **shape), data_dir)
        clock.advance(step - timedelta(minutes=10))


def test_live_stats_count_a_buckets_usable_batches_and_find_its_finer_parts(db: Session) -> None:
    register(db)
    for m in [5, 50, 70, 6 * 60 + 5, 24 * 60 + 1]:
        batch_row(db, START + timedelta(minutes=m))
    batch_row(db, START + timedelta(minutes=6), "rejected")  # no accepted rows: not counted
    db.flush()
    stats = rollups.LiveStats(db, "events")
    stats.load([("day", START), ("hour", START + timedelta(hours=2))])
    assert stats.stat(("day", START)) == (4, START + timedelta(hours=6, minutes=5))
    assert stats.ranges[("day", START)].first == START + timedelta(minutes=5)
    assert stats.ranges[("day", START)].rows == 4
    assert stats.stat(("hour", START + timedelta(hours=2))) is None
    assert stats.children(("day", START)) == [("6h", START), ("6h", START + timedelta(hours=6))]
    assert stats.children(("6h", START)) == [
        ("hour", START),
        ("hour", START + timedelta(hours=1)),
    ]
    assert stats.children(("hour", START)) == [
        ("10m", START),
        ("10m", START + timedelta(minutes=50)),
    ]
    assert stats.children(("10m", START)) == [("min", START + timedelta(minutes=5))]
    assert stats.children(("min", START + timedelta(minutes=5))) == []


def test_gaps_are_the_parts_of_a_window_no_used_bucket_covers() -> None:
    used = {("hour", START + timedelta(hours=1)), ("6h", START + timedelta(hours=6))}
    end = START + timedelta(days=1)
    assert rollups.gaps(START, end, used) == [
        (START, START + timedelta(hours=1)),
        (START + timedelta(hours=2), START + timedelta(hours=6)),
        (START + timedelta(hours=12), end),
    ]
    assert rollups.gaps(START, end, set()) == [(START, end)]
    assert rollups.gaps(START, START + timedelta(hours=12), used)[-1][1] == START + timedelta(
        hours=6
    )


def test_windows_through_rollups_equal_windows_from_batch_profiles_and_stale_ones_are_skipped(
    db: Session, settings: Settings, tmp_path: Path
) -> None:
    register(db)
    with simulated() as clock:
        hourly(db, clock, tmp_path, 30, rows=300)
        build_reference(db, CLI_OPERATOR, contract_id="events", settings=settings, reason="t")
        hourly(db, clock, tmp_path, 20, rows=300, seed=500, shift=0.5, cat_mix=SHIFTED_MIX)
        # a whole day, and a window cut mid-hour at both ends
        windows = [(START, START + timedelta(days=1)), (START + timedelta(hours=3.5), clock.now())]
        plain = [_series(db, settings, s, e) for s, e in windows]
        assert db.scalar(select(func.count()).select_from(ProfileRollup)) == 0
        first = refresh_rollups(db, contract_id="events", settings=settings)
        # each hour with its batch's minute and 10 minutes, 6 hours, days
        assert (first.built, first.left) == (3 * 50 + 8 + 2, 0)
        assert refresh_rollups(db, contract_id="events", settings=settings).built == 0
        levels = _levels(db)
        cached = [_series(db, settings, s, e) for s, e in windows]
        # a late batch lands in an already rolled-up hour (a simulation rewinding the clock)
        clock.set(START + timedelta(hours=5, minutes=30))
        hourly(db, clock, tmp_path, 1, rows=300, seed=900, shift=2.0)
        clock.set(START + timedelta(hours=50))
        after = [_series(db, settings, s, e) for s, e in windows]
        again = refresh_rollups(db, contract_id="events", settings=settings)
        refreshed = [_series(db, settings, s, e) for s, e in windows]
    assert levels == {"min": 50, "10m": 50, "hour": 50, "6h": 8, "day": 2}
    for a, b in zip(plain, cached, strict=True):
        _assert_same(a, b)
    assert again.built == 5  # the late batch's new minute and 10 minutes; its hour, 6 h, day
    assert after[0]["windows"][0]["rows"] == plain[0]["windows"][0]["rows"] + 300
    for a, b in zip(after, refreshed, strict=True):
        _assert_same(a, b)
    assert (
        after[0]["windows"][0]["fields"]["x"]["statistic"]
        != plain[0]["windows"][0]["fields"]["x"]["statistic"]
    )


def test_a_bounded_refresh_builds_newest_hours_first_and_windows_stay_exact_meanwhile(
    db: Session, settings: Settings, tmp_path: Path
) -> None:
    register(db)
    with simulated() as clock:
        hourly(db, clock, tmp_path, 26, rows=300)
        build_reference(db, CLI_OPERATOR, contract_id="events", settings=settings, reason="t")
        hourly(db, clock, tmp_path, 22, rows=300, seed=500, shift=0.5, cat_mix=SHIFTED_MIX)
        windows = [
            (START, START + timedelta(days=2)),
            (START + timedelta(hours=1.5), START + timedelta(hours=47.25)),
        ]
        plain = [_series(db, settings, s, e) for s, e in windows]
        runs, hours_after_first = [], None
        while True:
            done = refresh(
                db,
                contract_id="events",
                fields=FIELDS,
                start=START,
                end=clock.now(),
                max_batches=10,
            )
            runs.append(done)
            if hours_after_first is None:
                hours_after_first = sorted(
                    db.scalars(
                        select(ProfileRollup.bucket_start)
                        .where(ProfileRollup.level == "hour")
                        .distinct()
                    )
                )
            for a, b in zip(plain, [_series(db, settings, s, e) for s, e in windows], strict=True):
                _assert_same(a, b)
            if done.left == 0:
                break
            assert len(runs) < 10
    assert hours_after_first == [START + timedelta(hours=h) for h in range(38, 48)]
    assert [r.left for r in runs] == sorted((r.left for r in runs), reverse=True)
    assert len(runs) == 5  # 48 hours, 10 batches a run
    assert _levels(db) == {"min": 48, "10m": 48, "hour": 48, "6h": 8, "day": 2}


def test_a_week_is_read_from_its_weekly_rollup_or_else_from_its_days(
    db: Session, settings: Settings, tmp_path: Path
) -> None:
    register(db)
    six_hours = timedelta(hours=6)
    with simulated() as clock:
        every(db, clock, tmp_path, 8, six_hours)
        build_reference(db, CLI_OPERATOR, contract_id="events", settings=settings, reason="t")
        every(db, clock, tmp_path, 36, six_hours, shift=0.3)  # to Friday 13 November, 00:00
        week = datetime(2026, 11, 5, tzinfo=START.tzinfo)  # epoch weeks start on Thursdays
        window = (START + timedelta(hours=7.5), clock.now())
        plain = _series(db, settings, *window)
        done = refresh(db, contract_id="events", fields=FIELDS, start=START, end=clock.now())
        levels = _levels(db)
        cached = _series(db, settings, *window)
        # a late batch in the week: its hour, 6 hours, day and week are stale, the rest is not
        # (and its minute and 10 minutes have no rollup yet)
        clock.set(week + timedelta(days=2, hours=3, minutes=20))
        post(db, frame(300, seed=1, at=clock.now(), shift=3.0), tmp_path)
        clock.set(window[1])
        after = _series(db, settings, *window)
        plain_after = _series_without_rollups(db, settings, window)
        used = _used_rollups(db, window)
        again = refresh(db, contract_id="events", fields=FIELDS, start=START, end=clock.now())
    late_day = week + timedelta(days=2)
    assert {b for b in used if week <= b[1] < week + timedelta(days=7)} == {
        *(("day", week + timedelta(days=d)) for d in (0, 1, 3, 4, 5, 6)),
        *(("6h", late_day + timedelta(hours=h)) for h in (6, 12, 18)),
        ("hour", late_day),  # the batch at 00:10; the late one at 03:20 is read alone
    }
    assert levels == {"min": 44, "10m": 44, "hour": 44, "6h": 44, "day": 11, "week": 1}
    assert done.left == 0
    _assert_same(plain, cached)
    _assert_same(plain_after, after)
    assert after["windows"][0]["rows"] == plain["windows"][0]["rows"] + 300
    assert again.built == 6


def _used_rollups(db: Session, window: tuple[datetime, datetime]) -> set[tuple[str, datetime]]:
    stats = rollups.LiveStats(db, "events")
    tiles = tile(*window)
    found = rollups.cover(db, "events", tiles, stats, FIELDS)
    return rollups.used_buckets(tiles, found, stats)


def _series_without_rollups(
    db: Session, settings: Settings, window: tuple[datetime, datetime]
) -> dict[str, Any]:
    """The same window read from batch profiles only (rollups set aside, then put back)."""
    with db.begin_nested() as savepoint:
        db.execute(ProfileRollup.__table__.delete())
        out = _series(db, settings, *window)
        savepoint.rollback()
    return out


def test_a_field_older_batches_never_profiled_does_not_keep_its_buckets_stale(
    db: Session, settings: Settings, tmp_path: Path
) -> None:
    register(db)
    with simulated() as clock:
        hourly(db, clock, tmp_path, 12, rows=300)
        build_reference(db, CLI_OPERATOR, contract_id="events", settings=settings, reason="t")
        doc = events_contract()
        doc["version"] = "1.1.0"
        doc["fields"].append({"name": "z", "type": "float"})
        add_version(db, CLI_OPERATOR, contract_id="events", spec=ContractSpec.model_validate(doc))
        for h in range(12):
            clock.advance(timedelta(minutes=10))
            data = frame(300, seed=300 + h, at=clock.now())
            z = np.random.default_rng(h).normal(0, 1, 300)
            post(db, data.with_columns(z=z), tmp_path)
            clock.advance(timedelta(minutes=50))
        window = (START, clock.now())
        plain = _series(db, settings, *window)
        first = refresh_rollups(db, contract_id="events", settings=settings)
        second = refresh_rollups(db, contract_id="events", settings=settings)
        cached = _series(db, settings, *window)
        absent = db.scalar(
            select(func.count())
            .select_from(ProfileRollup)
            .where(ProfileRollup.field == "z", ProfileRollup.type == "absent")
        )
    # 24 hours, each with its batch's minute and 10 minutes; 4 6-hour buckets, a day
    assert first.built == 3 * 24 + 4 + 1 and second.built == 0
    # the first 12 hours (and their batches' minutes and 10 minutes), their two 6-hour buckets
    assert absent == 3 * 12 + 2
    assert "z" in cached["windows"][0]["fields"]
    _assert_same(plain, cached)
