"""Score calibration for the label-free estimate: the isotonic fit against scikit-learn, the
calibrated estimate against realized quality on miscalibrated scores, and the per-version
calibration fitted from a reference window's labels in PostgreSQL (stored, refitted when the
reference's labels change, and refused with a reason when they cannot support a fit)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.isotonic import IsotonicRegression
from sklearn.metrics import roc_auc_score
from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from core.settings import Settings
from monitors.quality import calibration, metrics
from monitors.quality.models import ModelCalibration
from monitors.quality.service import quality_series, record_recent
from ranker.models import PredictionLabel
from tests.monitors.factory import simulated
from tests.monitors.quality.test_quality import log_hour, traffic

Auth = Callable[[str], dict[str, str]]

# --- pure: the isotonic map and the estimate --------------------------------------------------


# Served scores are float32: a grid keeps apart values scikit-learn would pool (it merges
# scores closer than 1e-15, which float32 scores never are).
SCORES = st.integers(0, 2**12).map(lambda i: i / 2**12)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(SCORES | st.sampled_from([0.0, 0.5, 1.0]), st.booleans()), max_size=80, min_size=1
    )
)
def test_isotonic_fit_predicts_like_scikit_learn(pairs: list[tuple[float, bool]]) -> None:
    scores = np.array([p[0] for p in pairs])
    labels = np.array([p[1] for p in pairs])
    fitted = calibration.fit_isotonic(scores, labels)
    reference = IsotonicRegression(out_of_bounds="clip").fit(scores, labels)
    probe = np.r_[scores, np.linspace(-0.5, 1.5, 41)]
    np.testing.assert_allclose(fitted.apply(probe), reference.predict(probe), atol=1e-12)
    assert np.all(np.diff(fitted.scores) > 0) and np.all(np.diff(fitted.probabilities) >= 0)


def test_isotonic_fit_refuses_no_data() -> None:
    with pytest.raises(ValueError, match="at least one"):
        calibration.fit_isotonic(np.empty(0), np.empty(0, dtype=bool))


@pytest.mark.parametrize("seed", [21, 22, 23])
def test_calibrated_estimate_is_within_target_where_raw_scores_are_not(seed: int) -> None:
    _, ref_scores, ref_clicks = traffic(2000, seed, miscalibrated=True)
    fitted = calibration.fit_isotonic(ref_scores, ref_clicks)
    _, scores, clicks = traffic(2000, seed + 100, miscalibrated=True)
    auc, ctr = roc_auc_score(clicks, scores), clicks.mean()
    raw = metrics.estimated(scores)
    calibrated = metrics.estimated(scores, fitted)
    assert not raw.calibrated and calibrated.calibrated
    assert abs(raw.expected_auc - auc) > 0.05 and abs(raw.expected_ctr / ctr - 1) > 0.5
    assert abs(calibrated.expected_auc - auc) <= 0.02
    assert abs(calibrated.expected_ctr / ctr - 1) <= 0.10


def test_fit_quality_reports_raw_and_heldout_errors() -> None:
    _, scores, clicks = traffic(1000, 5, miscalibrated=True)
    fitted = calibration.fit_isotonic(scores, clicks)
    fit = calibration.fit_quality(scores, clicks, fitted)
    assert fit["ctr_observed"] == pytest.approx(clicks.mean())
    assert fit["ece_raw"] > 0.2 > 0.03 > fit["ece_heldout"] >= fit["ece_calibrated"] - 1e-9
    assert fit["brier_heldout"] < fit["brier_raw"] and fit["knots"] == fitted.scores.size


# --- per model version, from the prediction log -----------------------------------------------


def calibration_settings(settings: Settings, **changes: Any) -> Settings:
    """A 2-hour reference window of small hours (the defaults want a day and 1,000 labels)."""
    base = {"monitor_calibration_window": "PT2H", "monitor_calibration_min_labels": 500}
    return settings.model_copy(update={**base, **changes})


def hours_of(db: Session, settings: Settings, start: Any, count: int) -> list[dict[str, Any]]:
    return quality_series(
        db, model="ranker", window="PT1H", start=start, end=start + timedelta(hours=count),
        count=1, settings=settings,
    )["windows"]  # fmt: skip


def test_calibration_is_fitted_on_the_reference_windows_labels_and_stored_per_version(
    db: Session, settings: Settings
) -> None:
    cfg = calibration_settings(settings)
    with simulated() as clock:
        t0 = clock.now()
        for h in range(4):  # version 1: a 2-hour reference, then two hours to estimate
            log_hour(db, t0 + timedelta(hours=h), seed=300 + h, requests=300, miscalibrated=True)
        log_hour(db, t0 + timedelta(hours=4), seed=310, requests=300, version=2)
        clock.advance(timedelta(hours=5))
        early = hours_of(db, cfg, t0, 4)  # the reference's labels are not mature yet
        clock.advance(timedelta(days=1))
        windows = hours_of(db, cfg, t0, 5)
    assert all(w["calibration"]["status"] == "uncalibrated" for w in early)
    assert "are mature from" in early[0]["calibration"]["reason"]
    rows = db.scalars(select(ModelCalibration)).all()
    assert [(r.model_name, r.model_version, r.revision) for r in rows] == [("ranker", 1, 1)]
    stored = rows[0]
    assert (stored.window_start, stored.window_end) == (t0, t0 + timedelta(hours=2))
    assert stored.labeled == stored.sampled == stored.predictions == 6000
    # the stored map is the isotonic fit of exactly the reference window's labelled predictions
    ref = db.execute(
        text(
            "SELECT p.score, l.clicked FROM predictions p JOIN prediction_labels l USING "
            "(prediction_id) WHERE p.model_version = 1 AND p.served_at < :end"
        ),
        {"end": t0 + timedelta(hours=2)},
    ).all()
    x, y = np.array([r[0] for r in ref]), np.array([r[1] for r in ref])
    assert stored.positives == int(y.sum())
    knots = np.array(stored.knots["scores"])
    expected = IsotonicRegression(out_of_bounds="clip").fit(x, y).predict(knots)
    np.testing.assert_allclose(stored.knots["probabilities"], expected, atol=1e-12)

    reference, after, v2 = windows[:2], windows[2:4], windows[4]
    assert [w["calibration"]["reference_share"] for w in reference] == [1.0, 1.0]
    assert all(w["calibration"]["in_reference"] for w in reference)
    for w in after:
        used = w["calibration"]
        assert used["status"] == "calibrated" and not used["in_reference"]
        assert used["reference_share"] == 0.0
        assert used["versions"][0]["sampled"] == 6000 and used["versions"][0]["revision"] == 1
        assert used["versions"][0]["fit"]["ece_heldout"] < used["versions"][0]["fit"]["ece_raw"]
        raw = w["metrics"]["estimated_uncalibrated"]
        assert abs(w["estimated_auc"] - w["auc"]) <= 0.03 < abs(raw["expected_auc"] - w["auc"])
        ctr = w["metrics"]["realized"]["ctr_observed"]
        assert abs(w["estimated_ctr"] / ctr - 1) <= 0.10 < abs(raw["expected_ctr"] / ctr - 1)
    # version 2 served an hour: its own reference is not mature, so its window says so
    assert v2["calibration"]["status"] == "uncalibrated"
    assert v2["calibration"]["reason"].startswith("version 2: the labels of its reference")
    assert v2["estimated_auc"] == v2["metrics"]["estimated_uncalibrated"]["expected_auc"]


def test_no_labels_yet_means_no_calibration_and_the_window_says_why(
    db: Session, settings: Settings
) -> None:
    cfg = calibration_settings(settings)
    with simulated() as clock:
        t0 = clock.now()
        pending = []
        for h in range(3):
            pending += log_hour(db, t0 + timedelta(hours=h), seed=400 + h, label_share=0.0)
        clock.advance(timedelta(days=2))
        windows = hours_of(db, cfg, t0, 3)
        assert db.scalars(select(ModelCalibration)).all() == []
        reason = windows[2]["calibration"]["reason"]
        assert reason.startswith("version 1: 0 labelled predictions in its reference window")
        assert "monitor_calibration_min_labels is 500" in reason
        assert windows[2]["estimated_auc"] is not None  # still estimated, marked uncalibrated
        assert windows[2]["metrics"]["estimated"]["calibrated"] is False
        # labels that are all non-clicks cannot calibrate either
        db.execute(insert(PredictionLabel), [{**lab, "clicked": False} for lab in pending])
        one_class = hours_of(
            db, cfg.model_copy(update={"monitor_calibration_min_labels": 10}), t0, 3
        )
    assert "0 clicks and 2000 non-clicks" in one_class[2]["calibration"]["reason"]
    assert db.scalars(select(ModelCalibration)).all() == []
    none = hours_of(db, cfg, t0 - timedelta(days=30), 1)[0]
    assert none["status"] == "no_data" and none["calibration"]["status"] == "uncalibrated"


def test_late_labels_in_the_reference_refit_it_when_the_runner_verifies(
    db: Session, settings: Settings
) -> None:
    cfg = calibration_settings(settings, monitor_quality_backfill=30)
    with simulated() as clock:
        t0 = clock.now()
        late = []
        for h in range(3):
            late += log_hour(
                db, t0 + timedelta(hours=h), seed=500 + h, requests=300, label_share=0.6,
                miscalibrated=True,
            )  # fmt: skip
        clock.advance(timedelta(days=1, hours=3))
        hours_of(db, cfg, t0, 3)
        first = db.scalars(select(ModelCalibration)).one()
        assert (first.revision, first.labeled, first.predictions) == (1, 3600, 6000)
        db.execute(insert(PredictionLabel), late)  # the rest of the reference's labels land
        hours_of(db, cfg, t0, 3)  # a read trusts the stored fit for the same window
        assert db.scalars(select(ModelCalibration)).one().revision == 1
        record_recent(db, settings=cfg)  # the runner compares the reference's label counts
        db.expire_all()
        refit = db.scalars(select(ModelCalibration)).one()
        assert (refit.revision, refit.labeled) == (2, 6000)
        record_recent(db, settings=cfg)  # nothing changed: no refit
        db.expire_all()
        assert db.scalars(select(ModelCalibration)).one().revision == 2
        # a longer reference window is another reference: refit on read
        longer = cfg.model_copy(update={"monitor_calibration_window": "PT3H"})
        clock.advance(timedelta(hours=1))
        hours_of(db, longer, t0, 3)
        db.expire_all()
        moved = db.scalars(select(ModelCalibration)).one()
    assert (moved.revision, moved.window_end, moved.labeled) == (3, t0 + timedelta(hours=3), 9000)


def test_quality_api_names_the_calibration_an_estimate_used(
    client: TestClient, auth: Auth, db: Session
) -> None:
    with simulated() as clock:
        t0 = clock.now()
        for h in range(25):
            log_hour(db, t0 + timedelta(hours=h), seed=600 + h, requests=10, miscalibrated=True)
        db.commit()
        clock.advance(timedelta(days=2, hours=1))
        start, end = (f"{t0 + timedelta(hours=h):%Y-%m-%dT%H:%M:%SZ}" for h in (24, 25))
        resp = client.get(
            f"/monitors/quality?model=ranker&window=PT1H&start={start}&end={end}",
            headers=auth("viewer"),
        )
    assert resp.status_code == 200, resp.text
    used = resp.json()["windows"][0]["calibration"]
    assert used["status"] == "calibrated" and used["reason"] is None
    version = used["versions"][0]
    assert version["model_version"] == 1 and version["method"] == "isotonic"
    assert version["sampled"] == version["labeled"] == 2400
    assert set(version["fit"]) >= {"ece_raw", "ece_heldout", "brier_raw", "brier_heldout"}
    assert version["window_end"].startswith((t0 + timedelta(days=1)).date().isoformat())


def test_a_large_reference_is_sampled_and_a_reference_that_stops_qualifying_is_dropped(
    db: Session, settings: Settings
) -> None:
    cfg = calibration_settings(
        settings, monitor_calibration_max_labels=1000, monitor_quality_backfill=30
    )
    with simulated() as clock:
        t0 = clock.now()
        for h in range(3):
            log_hour(db, t0 + timedelta(hours=h), seed=700 + h, requests=300, miscalibrated=True)
        clock.advance(timedelta(days=1, hours=3))
        window = hours_of(db, cfg, t0 + timedelta(hours=2), 1)[0]
        used = window["calibration"]["versions"][0]
        assert window["calibration"]["status"] == "calibrated" and used["labeled"] == 6000
        assert 800 <= used["sampled"] <= 1200  # a hash sample of about max_labels
        again = hours_of(db, cfg, t0 + timedelta(hours=2), 1)[0]["calibration"]["versions"][0]
        assert again["sampled"] == used["sampled"] and again["revision"] == 1
        # the reference's labels are withdrawn: the runner drops the fit instead of keeping it
        db.execute(
            text(
                "DELETE FROM prediction_labels l USING predictions p WHERE "
                "p.prediction_id = l.prediction_id AND p.served_at < :end"
            ),
            {"end": t0 + timedelta(hours=2)},
        )
        record_recent(db, settings=cfg)
        db.expire_all()
        assert db.scalars(select(ModelCalibration)).all() == []
        after = hours_of(db, cfg, t0 + timedelta(hours=2), 1)[0]["calibration"]
    assert after["status"] == "uncalibrated" and "0 labelled predictions" in after["reason"]
