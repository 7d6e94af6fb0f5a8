"""Rollups are a cache: windows read through them equal windows read from batch profiles."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.auth import CLI_OPERATOR
from core.settings import Settings
from monitors.models import ProfileRollup
from monitors.references import build_reference
from monitors.rollups import plan
from monitors.service import drift_series, refresh_rollups
from tests.monitors.factory import START, hourly, register, simulated
from tests.monitors.test_drift import SHIFTED_MIX


def _stats(series: dict) -> list[dict[str, tuple[str, float | None]]]:
    return [
        {k: (f["severity"], f["statistic"]) for k, f in w["fields"].items()}
        for w in series["windows"]
    ]


def test_a_window_plan_takes_whole_days_then_hours() -> None:
    start = START + timedelta(hours=22, minutes=30)
    got = plan(start, start + timedelta(days=2)).buckets
    assert got[0] == ("hour", START + timedelta(hours=23))
    assert got[1] == ("day", START + timedelta(days=1))
    assert got[-1] == ("hour", START + timedelta(days=2, hours=21))
    assert len(got) == 1 + 1 + 22  # 23:00, the whole next day, then 00:00-21:00


def test_windows_through_rollups_equal_windows_from_batch_profiles_and_stale_ones_are_skipped(
    db: Session, settings: Settings, tmp_path: Path
) -> None:
    register(db)
    with simulated() as clock:
        hourly(db, clock, tmp_path, 30, rows=300)
        build_reference(db, CLI_OPERATOR, contract_id="events", settings=settings, reason="t")
        hourly(db, clock, tmp_path, 20, rows=300, seed=500, shift=0.5, cat_mix=SHIFTED_MIX)

        def series() -> dict:
            return drift_series(
                db,
                dataset="events",
                window="P1D",
                start=START,
                end=clock.now(),
                count=1,
                settings=settings,
            )

        plain = series()
        assert db.scalar(select(func.count()).select_from(ProfileRollup)) == 0
        assert refresh_rollups(db, contract_id="events", settings=settings) > 0
        assert refresh_rollups(db, contract_id="events", settings=settings) == 0  # all current
        levels = set(db.scalars(select(ProfileRollup.level).distinct()))
        cached = series()
        # a late batch lands in an already rolled-up hour (a simulation rewinding the clock)
        clock.set(START + timedelta(hours=5, minutes=30))
        hourly(db, clock, tmp_path, 1, rows=300, seed=900, shift=2.0)
        clock.set(START + timedelta(hours=50))
        after = series()
        assert refresh_rollups(db, contract_id="events", settings=settings) == 2  # hour + day
        refreshed = series()
    assert levels == {"hour", "day"}
    for a, b in zip(_stats(plain), _stats(cached), strict=True):
        for name in a:
            assert a[name][0] == b[name][0]
            assert a[name][1] == pytest.approx(b[name][1], rel=1e-9, abs=1e-12)
    assert after["windows"][0]["rows"] == plain["windows"][0]["rows"] + 300
    assert _stats(after) == _stats(refreshed)
    assert (
        after["windows"][0]["fields"]["x"]["statistic"]
        != plain["windows"][0]["fields"]["x"]["statistic"]
    )
