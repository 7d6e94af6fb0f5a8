"""Drift from stored profiles: references, per-window and per-batch verdicts, no_data."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy.orm import Session

from core.auth import CLI_OPERATOR
from core.settings import Settings
from monitors.drift import repository
from monitors.drift.references import build_reference, ensure_reference
from monitors.drift.service import drift_series, record_recent_windows
from monitors.errors import InvalidWindow, ReferenceUnavailable
from tests.monitors.factory import events_contract, hourly, register, simulated

SHIFTED_MIX = np.array([0.05, 0.05, 0.1, 0.3, 0.5])


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


def test_same_distribution_is_ok_and_a_shift_alerts_on_the_shifted_fields(
    db: Session, settings: Settings, data_dir: Path
) -> None:
    register(db)
    with simulated() as clock:
        hourly(db, clock, data_dir, 6, seed=0)
        ref = build_reference(
            db, CLI_OPERATOR, contract_id="events", settings=settings, reason="test"
        )
        assert (ref.version, ref.source, len(ref.batch_ids)) == (1, "trailing_window", 6)
        hourly(db, clock, data_dir, 2, seed=100)
        hourly(db, clock, data_dir, 2, seed=200, shift=1.0, cat_mix=SHIFTED_MIX)
        series = drift_series(
            db, dataset="events", window="PT1H", start=None, end=None, count=4, settings=settings
        )
    verdicts = [w["verdict"] for w in series["windows"]]
    assert verdicts[:2] == ["ok", "ok"] and verdicts[2:] == ["alert", "alert"]
    shifted = series["windows"][-1]["fields"]
    assert shifted["x"]["severity"] == "alert" and shifted["x"]["statistic"] > 0.25
    assert shifted["score"]["severity"] == "alert"
    assert shifted["cat"]["severity"] == "alert" and shifted["cat"]["unseen"] == []
    assert shifted["y"]["severity"] == "ok" and shifted["n"]["severity"] == "ok"
    assert series["windows"][-1]["drifted_share"] == 0.5  # 3 of 6 fields: dataset alert
    assert series["windows"][-1]["prediction_drift"]["field"] == "score"
    assert [p["severity"] for p in series["fields"]["x"]] == ["ok", "ok", "alert", "alert"]


def test_empty_and_too_small_windows_report_no_data_never_no_drift(
    db: Session, settings: Settings, data_dir: Path
) -> None:
    register(db)
    with simulated() as clock:
        hourly(db, clock, data_dir, 3)
        build_reference(db, CLI_OPERATOR, contract_id="events", settings=settings, reason="t")
        clock.advance(timedelta(hours=2))  # two empty hours
        hourly(db, clock, data_dir, 1, rows=20)  # below monitor_min_rows
        series = drift_series(
            db, dataset="events", window="1h", start=None, end=None, count=3, settings=settings
        )
    assert [w["verdict"] for w in series["windows"]] == ["no_data", "no_data", "no_data"]
    assert "20 rows" in series["windows"][-1]["reason"]
    assert all(f["severity"] == "no_data" for f in series["windows"][-1]["fields"].values())


def test_without_a_reference_every_window_is_no_data(
    db: Session, settings: Settings, data_dir: Path
) -> None:
    register(db)
    with simulated() as clock:
        hourly(db, clock, data_dir, 2)
        series = drift_series(
            db,
            dataset="shop/events",
            window="PT1H",
            start=None,
            end=None,
            count=2,
            settings=settings,
        )
    assert series["reference"] is None
    assert {w["verdict"] for w in series["windows"]} == {"no_data"}
    assert series["windows"][0]["reason"].startswith("no reference")


def test_per_batch_series_judges_each_batch(
    db: Session, settings: Settings, data_dir: Path
) -> None:
    register(db)
    with simulated() as clock:
        hourly(db, clock, data_dir, 4)
        build_reference(db, CLI_OPERATOR, contract_id="events", settings=settings, reason="t")
        good = hourly(db, clock, data_dir, 1, seed=50)
        bad = hourly(db, clock, data_dir, 1, seed=51, cat_mix=SHIFTED_MIX)
        series = drift_series(
            db, dataset="events", window="batch", start=None, end=None, count=2, settings=settings
        )
    assert [w["batch_ids"] for w in series["windows"]] == [[str(good[0].id)], [str(bad[0].id)]]
    assert series["windows"][0]["fields"]["cat"]["severity"] == "ok"
    assert series["windows"][1]["fields"]["cat"]["severity"] == "alert"


def test_contract_monitoring_section_sets_methods_and_thresholds(
    db: Session, settings: Settings, data_dir: Path
) -> None:
    register(
        db,
        events_contract(
            fields={
                "x": {"method": "ks", "warn": 0.05, "alert": 0.1},
                "cat": {"method": "chi2"},
                "y": {"method": "psi", "warn": 0.01, "alert": 0.02, "bins": 20},
            }
        ),
    )
    with simulated() as clock:
        hourly(db, clock, data_dir, 4, rows=1000)
        build_reference(db, CLI_OPERATOR, contract_id="events", settings=settings, reason="t")
        hourly(
            db,
            clock,
            data_dir,
            1,
            rows=1000,
            seed=77,
            shift=0.5,
            cat_mix=np.array([0.2, 0.2, 0.2, 0.2, 0.2]),
        )
        series = drift_series(
            db, dataset="events", window="PT1H", start=None, end=None, count=1, settings=settings
        )
    fields = series["windows"][0]["fields"]
    assert set(fields) == {"x", "cat", "y"}  # only the monitored fields
    assert fields["x"]["method"] == "ks" and fields["x"]["severity"] == "alert"
    assert fields["x"]["adjusted_p_value"] < 0.05
    # chi2 thresholds are p-value levels (defaults 0.05 warn / 0.01 alert)
    assert (fields["cat"]["warn"], fields["cat"]["alert"]) == (0.05, 0.01)
    assert fields["cat"]["severity"] == "alert" and fields["cat"]["adjusted_p_value"] < 0.01
    assert len(fields["y"]["edges"]) == 19  # 20 reference-quantile bins


def test_reference_is_versioned_and_recomputed_only_when_it_changes(
    db: Session, settings: Settings, data_dir: Path
) -> None:
    register(db)
    with simulated() as clock:
        hourly(db, clock, data_dir, 3)
        first = ensure_reference(db, CLI_OPERATOR, contract_id="events", settings=settings)
        assert first is not None and first.version == 1
        assert ensure_reference(db, CLI_OPERATOR, contract_id="events", settings=settings) is first
        clock.advance(timedelta(hours=30))  # past monitor_reference_max_age (1 day)
        hourly(db, clock, data_dir, 2, seed=9)
        second = ensure_reference(db, CLI_OPERATOR, contract_id="events", settings=settings)
    assert second is not None and second.version == 2
    assert second.reason.startswith("trailing window is older")
    assert [r.version for r in repository.reference_versions(db, "events")] == [2, 1]


def test_pinned_reference_window_uses_only_batches_inside_it(
    db: Session, settings: Settings, data_dir: Path
) -> None:
    with simulated() as clock:
        start = clock.now()
        register(
            db,
            events_contract(
                reference={
                    "start": start.isoformat(),
                    "end": (start + timedelta(hours=2)).isoformat(),
                }
            ),
        )
        inside = hourly(db, clock, data_dir, 2)
        hourly(db, clock, data_dir, 3, seed=30)
        ref = build_reference(db, CLI_OPERATOR, contract_id="events", settings=settings, reason="t")
    assert ref.source == "pinned_window"
    assert sorted(ref.batch_ids) == sorted(str(b.id) for b in inside)
    assert ref.row_count == 1000


def test_reference_without_data_is_a_conflict_naming_the_rule(
    db: Session, settings: Settings
) -> None:
    register(db)
    with simulated(), pytest.raises(ReferenceUnavailable) as err:
        build_reference(db, CLI_OPERATOR, contract_id="events", settings=settings, reason="t")
    assert err.value.rule == "reference_has_data"


def test_bad_windows_are_rejected_with_field_and_rule(db: Session, settings: Settings) -> None:
    register(db)
    for window, rule in [("soon", "duration_parses"), ("PT0.1S", "min_window")]:
        with pytest.raises(InvalidWindow) as err:
            drift_series(
                db,
                dataset="events",
                window=window,
                start=None,
                end=None,
                count=2,
                settings=settings,
            )
        assert (err.value.field, err.value.rule) == ("window", rule)


def test_runner_records_completed_windows_and_batches_and_upserts_on_rerun(
    db: Session, settings: Settings, data_dir: Path
) -> None:
    register(db)
    with simulated() as clock:
        hourly(db, clock, data_dir, 4)
        ref = build_reference(db, CLI_OPERATOR, contract_id="events", settings=settings, reason="t")
        hourly(db, clock, data_dir, 1, seed=60, shift=1.0, cat_mix=SHIFTED_MIX)
        clock.advance(timedelta(minutes=1))
        record_recent_windows(db, contract_id="events", reference=ref, settings=settings)
        stored = repository.drift_windows(
            db, "events", "window", clock.now() - timedelta(hours=2), clock.now()
        )
        assert [w.verdict for w in stored][-1] == "alert"
        batch_rows = [
            w
            for w in repository.drift_windows(
                db, "events", "batch", clock.now() - timedelta(hours=2), clock.now()
            )
        ]
        assert batch_rows[-1].verdict == "alert" and batch_rows[-1].batch_id is not None
        # recomputation is an upsert: the same window is not stored twice
        record_recent_windows(db, contract_id="events", reference=ref, settings=settings)
        again = repository.drift_windows(
            db, "events", "window", clock.now() - timedelta(hours=2), clock.now()
        )
    assert [(w.window_start, w.verdict) for w in again] == [
        (w.window_start, w.verdict) for w in stored
    ]
