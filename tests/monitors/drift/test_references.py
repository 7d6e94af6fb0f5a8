"""References people can trust: no reference below the minimum data (and drift says what is
missing), what a reference covers in the API and in every drift answer, replacement when the
champion changes, and seasonal references that compare an hour with the same hour of day."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from core.auth import CLI_OPERATOR
from core.clock import SimulatedClock
from core.settings import Settings
from monitors.drift import repository
from monitors.drift.references import build_reference, ensure_reference
from monitors.drift.seasons import Minimum, choose, hours_covered
from monitors.drift.service import drift_series
from tests.monitors.drift.test_drift_parity import _promote
from tests.monitors.factory import events_contract, frame, hourly, post, register, simulated

Auth = Callable[[str], dict[str, str]]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """The production minimums (the shared fixture relaxes them for other tests)."""
    return Settings(
        database_url=None,
        data_dir=tmp_path / "data",
        monitor_reference_min_batches=24,
        monitor_reference_min_rows=10_000,
    )


def _series(db: Session, settings: Settings, window: str = "PT1H", count: int = 3) -> Any:
    return drift_series(
        db, dataset="events", window=window, start=None, end=None, count=count, settings=settings
    )


def test_an_automatic_reference_waits_for_the_minimum_and_drift_says_what_is_missing(
    db: Session, settings: Settings
) -> None:
    register(db)
    with simulated() as clock:
        hourly(db, clock, settings.data_dir, 13, rows=500)  # 13 of 20 first batches
        early = ensure_reference(db, CLI_OPERATOR, contract_id="events", settings=settings)
        stored = repository.latest_reference(db, "events")
        waiting = _series(db, settings)
        batch = _series(db, settings, "batch", 1)
        hourly(db, clock, settings.data_dir, 11, rows=500, seed=50)  # 24 batches, 12,000 rows
        ready = ensure_reference(db, CLI_OPERATOR, contract_id="events", settings=settings)
        judged = _series(db, settings)
    assert early is None and stored is None
    assert waiting["reference"] is None
    missing = "has 13 of the 24 batches and 6,500 of the 10,000 rows a reference needs"
    assert missing in waiting["reference_pending"]
    assert waiting["reference_pending"].startswith("no reference yet: the trailing window")
    for w in [*waiting["windows"], *batch["windows"]]:
        assert w["verdict"] == "no_data" and missing in w["reason"]
    assert ready is not None and (ready.batch_count, ready.row_count) == (24, 12_000)
    assert ready.first_batch_at == datetime(2026, 11, 2, 0, 10, tzinfo=UTC)
    assert ready.last_batch_at == datetime(2026, 11, 2, 23, 10, tzinfo=UTC)
    ref = judged["reference"]
    assert (ref["source"], ref["batches"], ref["rows"]) == ("trailing_window", 24, 12_000)
    assert (ref["first_batch_at"], ref["last_batch_at"]) == (
        ready.first_batch_at,
        ready.last_batch_at,
    )
    assert judged["reference_pending"] is None
    assert judged["windows"][-1]["reference"] == {
        "id": str(ready.id),
        "version": 1,
        "slice": "whole",
        "batches": 24,
        "rows": 12_000,
    }
    assert judged["windows"][-1]["verdict"] != "no_data"


def test_the_contract_sets_the_minimum_and_both_batches_and_rows_must_be_met(
    db: Session, settings: Settings
) -> None:
    register(db, events_contract(reference={"window": "P7D", "min_batches": 3, "min_rows": 2000}))
    with simulated() as clock:
        hourly(db, clock, settings.data_dir, 3, rows=500)  # 3 batches but 1,500 rows
        short = ensure_reference(db, CLI_OPERATOR, contract_id="events", settings=settings)
        reason = _series(db, settings)["reference_pending"]
        hourly(db, clock, settings.data_dir, 1, rows=500, seed=9)
        ready = ensure_reference(db, CLI_OPERATOR, contract_id="events", settings=settings)
    assert short is None
    assert "1,500 of the 2,000 rows" in reason and "batches" not in reason
    assert ready is not None and ready.batch_count == 4


def test_reference_api_shows_coverage_and_what_is_missing_and_post_respects_the_minimum(
    db: Session, settings: Settings, client: TestClient, auth: Auth
) -> None:
    register(db)
    with simulated() as clock:
        hourly(db, clock, settings.data_dir, 5, rows=500)
        db.commit()
        pending = client.get("/monitors/references/active?dataset=events", headers=auth("viewer"))
        refused = client.post("/monitors/references?dataset=events", headers=auth("admin"))
        forced = client.post(
            "/monitors/references?dataset=events&force=true", headers=auth("admin")
        )
        listed = client.get("/monitors/references?dataset=events", headers=auth("viewer"))
        active = client.get("/monitors/references/active?dataset=events", headers=auth("viewer"))
    assert pending.status_code == 200 and pending.json()["reference"] is None
    assert "5 of the 24 batches" in pending.json()["pending"]
    assert refused.status_code == 409, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert (refused.json()["field"], refused.json()["rule"]) == ("dataset", "reference_minimum")
    assert forced.status_code == 200, forced.text
    (version,) = listed.json()
    assert version["active"] is True and version["reason"].endswith("(forced below the minimum)")
    assert (version["source"], version["batch_count"], version["row_count"]) == (
        "trailing_window",
        5,
        2500,
    )
    assert version["first_batch_at"].startswith("2026-11-02T00:10:00")
    assert version["last_batch_at"].startswith("2026-11-02T04:10:00")
    assert version["seasonality"] is None and version["slices"] is None
    assert active.json()["reference"]["id"] == version["id"] and active.json()["pending"] is None


def test_a_new_champion_replaces_the_reference_and_one_with_too_little_data_retires_it(
    db: Session, settings: Settings
) -> None:
    small = settings.model_copy(
        update={"monitor_reference_min_batches": 4, "monitor_reference_min_rows": 1}
    )
    register(db, events_contract(reference={"window": "PT3H"}))
    with simulated() as clock:
        seven = hourly(db, clock, small.data_dir, 5)
        eight = hourly(db, clock, small.data_dir, 5, seed=20)
        nine = hourly(db, clock, small.data_dir, 2, seed=40)
        # the trailing 3 hours hold 3 batches: below the minimum, so no reference at all
        assert ensure_reference(db, CLI_OPERATOR, contract_id="events", settings=small) is None
        _promote(db, seven, model_version="7")
        first = ensure_reference(db, CLI_OPERATOR, contract_id="events", settings=small)
        _promote(db, eight, model_version="8")
        second = ensure_reference(db, CLI_OPERATOR, contract_id="events", settings=small)
        _promote(db, nine, model_version="9")  # 2 training batches, and 3 in the window
        third = ensure_reference(db, CLI_OPERATOR, contract_id="events", settings=small)
        series = _series(db, small)
    assert first is not None and (first.source, first.model_version) == ("champion_training", "7")
    assert sorted(first.batch_ids) == sorted(str(b.id) for b in seven)
    assert second is not None and second.model_version == "8" and second.version == 2
    assert second.reason == "champion is now ranker v8"
    assert sorted(second.batch_ids) == sorted(str(b.id) for b in eight)
    assert third is None and second.retired_at is not None
    assert "2 of the 4 batches" in (second.retired_reason or "")
    assert repository.active_reference(db, "events") is None
    assert series["reference"] is None
    assert "v2 retired" in series["reference_pending"]
    assert "champion ranker v9 has 2 of the 4 batches" in series["reference_pending"]
    assert {w["verdict"] for w in series["windows"]} == {"no_data"}


def test_a_champion_below_the_minimum_falls_back_to_the_window_and_says_so(
    db: Session, settings: Settings
) -> None:
    small = settings.model_copy(
        update={"monitor_reference_min_batches": 4, "monitor_reference_min_rows": 1}
    )
    register(db)
    with simulated() as clock:
        few = hourly(db, clock, small.data_dir, 2)
        hourly(db, clock, small.data_dir, 4, seed=20)
        _promote(db, few, model_version="3")
        ref = ensure_reference(db, CLI_OPERATOR, contract_id="events", settings=small)
        again = ensure_reference(db, CLI_OPERATOR, contract_id="events", settings=small)
    assert ref is not None and ref.source == "trailing_window" and ref.batch_count == 6
    assert "champion ranker v3 has 2 of the 4 batches" in ref.reason
    assert again is ref  # no rebuild loop while the champion stays too small


# --- seasonality ----------------------------------------------------------------------------


def _rhythm(hour_of_day: int) -> float:
    """A daily rhythm: x moves up to 3 standard deviations over the day (shift 0 .. 1.5)."""
    return 0.75 * (1 + math.sin(2 * math.pi * hour_of_day / 24))


def _days(db: Session, clock: SimulatedClock, data_dir: Path, days: int, seed: int) -> None:
    """Hourly batches of a daily rhythm into both contracts (seasonal `events`, plain `flat`)."""
    for h in range(days * 24):
        clock.advance(timedelta(minutes=10))
        rows = frame(400, seed=seed + h, at=clock.now(), shift=_rhythm(clock.now().hour))
        post(db, rows, data_dir)
        post(db, rows, data_dir, contract_id="flat")
        clock.advance(timedelta(minutes=50))


def _contracts(db: Session, seasonality: str = "hour_of_day") -> None:
    monitoring = {"reference": {"window": "P3D", "seasonality": seasonality}, "fields": {"x": {}}}
    register(db, events_contract(**monitoring))
    flat = events_contract(reference={"window": "P3D"}, fields={"x": {}})
    register(db, {**flat, "id": "flat", "dataset": {"namespace": "shop", "name": "flat"}})


@pytest.mark.slow
def test_a_daily_rhythm_is_not_drift_against_the_same_hours_of_day(
    db: Session, settings: Settings
) -> None:
    _contracts(db)
    with simulated() as clock:
        _days(db, clock, settings.data_dir, 3, seed=0)
        for contract in ("events", "flat"):
            build_reference(db, CLI_OPERATOR, contract_id=contract, settings=settings, reason="t")
        _days(db, clock, settings.data_dir, 1, seed=1000)  # a fourth, clean day
        series = {
            c: drift_series(
                db, dataset=c, window="PT1H", start=None, end=None, count=24, settings=settings
            )
            for c in ("events", "flat")
        }
        two_hours = drift_series(
            db, dataset="events", window="PT2H", start=None, end=None, count=1, settings=settings
        )
        ref = repository.active_reference(db, "events")
    seasonal = [w["verdict"] for w in series["events"]["windows"]]
    flat = [w["verdict"] for w in series["flat"]["windows"]]
    psi = {c: [w["fields"]["x"]["statistic"] for w in series[c]["windows"]] for c in series}
    # against a whole-day reference the rhythm is drift in most hours (PSI up to ~0.5); against
    # the same hours of day only sampling noise is left (PSI ~0.01-0.06, 400 vs 1,200 rows),
    # so at most the odd false alarm of 24 tests at the significance level
    assert flat.count("alert") >= 15 and sorted(psi["flat"])[12] > 0.2
    assert max(psi["events"]) < 0.1 and seasonal.count("alert") <= 2
    last = series["events"]["windows"][-1]
    hour = datetime.fromisoformat(str(last["first_batch_at"])).hour
    assert last["reference"]["slice"] == f"h{hour:02d}" and last["reference"]["batches"] == 3
    assert last["reference"]["level"] == "hour_of_day" and last["reference"]["fallback"] is None
    assert two_hours["windows"][0]["reference"]["slice"] == "h22+h23"
    assert ref is not None and ref.seasonality == "hour_of_day"
    assert series["events"]["reference"]["seasonality"] == "hour_of_day"


@pytest.mark.slow
def test_a_slice_with_too_little_data_falls_back_and_the_window_says_why(
    db: Session, settings: Settings, client: TestClient, auth: Auth
) -> None:
    _contracts(db, "hour_of_week")
    with simulated() as clock:
        _days(db, clock, settings.data_dir, 3, seed=0)
        build_reference(db, CLI_OPERATOR, contract_id="events", settings=settings, reason="t")
        _days(db, clock, settings.data_dir, 1, seed=1000)
        weekly = _series(db, settings)["windows"][-1]["reference"]
        strict = settings.model_copy(update={"monitor_reference_slice_min_batches": 4})
        whole = _series(db, strict)["windows"][-1]["reference"]
        db.commit()
        listed = client.get("/monitors/references?dataset=events", headers=auth("viewer")).json()
    # the reference has Monday to Wednesday; on a Thursday the hour of the day stands in
    assert weekly["level"] == "hour_of_day" and weekly["batches"] == 3
    assert "hour_of_week slice d3h23 has 0 batches and 0 rows" in weekly["fallback"]
    assert (whole["slice"], whole["level"], whole["batches"]) == ("whole", "whole", 72)
    assert "hour_of_day slice h23 has 3 batches" in whole["fallback"]
    slices = listed[0]["slices"]
    assert len(slices) == 3 * 24 + 24  # hours of three weekdays, and of the day
    assert slices["h23"] == {"batches": 3, "rows": 1200}
    assert slices["d2h23"] == {"batches": 1, "rows": 400}


def test_choose_picks_the_finest_level_every_slice_of_the_window_has_data_for() -> None:
    at = datetime(2026, 11, 5, 13, 20, tzinfo=UTC)  # a Thursday
    full = {"h13": (4, 4000), "h14": (4, 4000), "d3h13": (2, 2000), "d3h14": (1, 100)}
    least = Minimum(2, 1000)
    one = choose(full, "hour_of_week", at, at, least, (99, 99_000))
    assert (one.keys, one.level, one.batches, one.fallback) == (("d3h13",), "hour_of_week", 2, None)
    two = choose(full, "hour_of_week", at, at + timedelta(hours=1), least, (99, 99_000))
    assert (two.keys, two.level, two.batches) == (("h13", "h14"), "hour_of_day", 8)
    assert two.fallback is not None and "d3h14 has 1 batches and 100 rows" in two.fallback
    day = choose(full, "hour_of_day", at, at + timedelta(hours=30), least, (99, 99_000))
    assert (day.keys, day.level, day.batches, day.fallback) == ((), "whole", 99, None)
    none = choose(full, "hour_of_day", None, None, least, (99, 99_000))
    assert none.level == "whole"
    assert choose(full, None, at, at, least, (99, 99_000)).keys == ()
    assert len(hours_covered(at, at + timedelta(days=30))) == 169
