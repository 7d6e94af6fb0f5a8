"""Model quality with delayed labels: realized metrics against scikit-learn, coverage and
maturity, late-label recomputation, the CBPE estimate with and without concept drift, and the
realized-AUC SLO burning once concept drift's labels land."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sklearn.metrics import log_loss as sk_log_loss
from sklearn.metrics import ndcg_score, roc_auc_score
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from core.auth import CLI_OPERATOR
from core.clock import SimulatedClock
from core.settings import Settings
from monitors.quality import metrics
from monitors.quality.models import ModelQualityWindow
from monitors.quality.service import quality_series, record_recent
from monitors.slos.alerts import reconcile
from monitors.slos.models import Alert
from monitors.slos.service import create_slo, evaluate_slo, get_slo
from ranker.models import Prediction, PredictionLabel
from tests.monitors.factory import simulated

Auth = Callable[[str], dict[str, str]]
ITEMS = 10


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def traffic(
    n_requests: int, seed: int, *, concept_drift: float = 0.0, miscalibrated: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(request codes, scores, clicks). Scores are calibrated, or with `miscalibrated` a
    monotone distortion of the truth (too high and too flat, like a model scored at position 0).
    Concept drift mixes an unseen factor into what users click, while the model's scores (and
    their distribution) stay the same."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=n_requests * ITEMS)
    truth = -2 + 1.5 * z
    scores = sigmoid(0.6 * truth + 1.2) if miscalibrated else sigmoid(truth)
    w = rng.normal(size=z.size)
    mixed = np.sqrt(1 - concept_drift**2) * z + concept_drift * w
    clicks = rng.random(z.size) < sigmoid(-2 + 1.5 * mixed)
    return np.repeat(np.arange(n_requests), ITEMS), scores, clicks


# --- pure metrics -----------------------------------------------------------------------------


def test_realized_metrics_match_scikit_learn() -> None:
    codes, scores, clicks = traffic(400, seed=1)
    r = metrics.realized(codes, scores, clicks)
    assert r.auc == pytest.approx(roc_auc_score(clicks, scores))
    assert r.log_loss == pytest.approx(sk_log_loss(clicks, scores))
    assert (r.ctr_observed, r.ctr_predicted) == pytest.approx((clicks.mean(), scores.mean()))
    per_request = [
        ndcg_score(clicks[codes == c][None, :], scores[codes == c][None, :], k=10)
        for c in np.unique(codes)
        if clicks[codes == c].any()
    ]
    assert r.ndcg_at_10 == pytest.approx(np.mean(per_request))
    assert r.ndcg_requests == len(per_request)


def test_calibration_error_is_zero_for_calibrated_bins_and_grows_with_bias() -> None:
    scores = np.array([0.05] * 20 + [0.55] * 20)
    labels = np.array([1] + [0] * 19 + [1] * 11 + [0] * 9, dtype=bool)
    assert metrics.calibration_error(scores, labels) == pytest.approx(0.0)
    assert metrics.calibration_error(scores + 0.2, labels) == pytest.approx(0.2)


def test_auc_needs_both_classes_and_ties_count_half() -> None:
    assert metrics.roc_auc(np.array([0.3, 0.4]), np.array([True, True])) is None
    assert metrics.roc_auc(np.array([0.5, 0.5]), np.array([True, False])) == 0.5


@pytest.mark.parametrize("seed", [3, 4, 5])
def test_cbpe_estimate_is_close_without_concept_drift_and_blind_with_it(seed: int) -> None:
    _, scores, clicks = traffic(2000, seed=seed)
    est = metrics.estimated(scores)
    assert est.expected_auc == pytest.approx(roc_auc_score(clicks, scores), abs=0.02)
    assert est.expected_ctr == pytest.approx(clicks.mean(), abs=0.01)
    _, drift_scores, drift_clicks = traffic(2000, seed=seed, concept_drift=0.8)
    blind = metrics.estimated(drift_scores)
    assert abs(blind.expected_auc - est.expected_auc) < 0.02  # same scores, same estimate
    assert blind.expected_auc - roc_auc_score(drift_clicks, drift_scores) > 0.1


# --- from the prediction log and the labels ---------------------------------------------------


def log_hour(
    db: Session,
    start: datetime,
    seed: int,
    *,
    requests: int = 100,
    label_share: float = 1.0,
    concept_drift: float = 0.0,
    version: int = 1,
    miscalibrated: bool = False,
) -> list[dict[str, object]]:
    """Serve one hour of requests into `predictions`; label a share now, return the rest."""
    codes, scores, clicks = traffic(
        requests, seed, concept_drift=concept_drift, miscalibrated=miscalibrated
    )
    request_ids = [uuid.uuid4() for _ in range(requests)]
    rows, labels = [], []
    for i, (code, score, click) in enumerate(zip(codes, scores, clicks, strict=True)):
        pid = uuid.uuid4()
        served = start + timedelta(seconds=int(3000 * code / requests))
        rows.append(
            {
                "prediction_id": pid,
                "request_id": request_ids[code],
                "served_at": served,
                "model_name": "ranker",
                "model_version": version,
                "user_id": f"u{code}",
                "item_id": f"i{i}",
                "position": i % ITEMS,
                "score": float(score),
                "surface": "feed",
                "device": "ios",
                "country": "US",
                "hour": served.hour,
                "features": np.zeros(1, dtype="<f4").tobytes(),
            }
        )
        labels.append(
            {
                "prediction_id": pid,
                "clicked": bool(click),
                "dwell_ms": None,
                "label_time": served + timedelta(minutes=5),
                "received_at": served,
                "received_by": "test",
            }
        )
    db.execute(insert(Prediction), rows)
    cut = int(len(labels) * label_share)
    if cut:
        db.execute(insert(PredictionLabel), labels[:cut])
    return labels[cut:]


def test_windows_show_coverage_provisional_then_mature_and_late_labels_recompute(
    db: Session, settings: Settings
) -> None:
    with simulated() as clock:
        hour = clock.now()
        late = log_hour(db, hour, seed=7, label_share=0.3)
        clock.advance(timedelta(hours=1, minutes=5))
        first = quality_series(
            db, model="ranker", window="PT1H", start=hour, end=None, count=1, settings=settings
        )["windows"][0]
        assert first["status"] == "insufficient_labels" and first["auc"] is None
        assert first["coverage"] == pytest.approx(0.3)
        assert first["estimated_auc"] is not None  # the estimate needs no labels
        db.execute(insert(PredictionLabel), late)  # the late labels arrive
        second = quality_series(
            db,
            model="ranker",
            window="PT1H",
            start=hour,
            end=hour + timedelta(hours=1),
            count=1,
            settings=settings,
        )["windows"][0]
        assert second["status"] == "provisional" and second["coverage"] == 1.0
        assert second["auc"] == pytest.approx(second["metrics"]["realized"]["auc"])
        assert abs(second["auc"] - second["estimated_auc"]) < 0.05
        clock.advance(timedelta(days=1))
        third = quality_series(
            db,
            model="ranker",
            window="PT1H",
            start=hour,
            end=hour + timedelta(hours=1),
            count=1,
            settings=settings,
        )["windows"][0]
    assert third["status"] == "mature" and third["auc"] == second["auc"]
    assert third["metrics"]["realized"]["ndcg_at_10"] > 0


def test_concept_drift_burns_the_realized_auc_slo_while_the_estimate_stays_flat(
    db: Session, settings: Settings
) -> None:
    with simulated() as clock:
        create_slo(
            db,
            CLI_OPERATOR,
            data={
                "id": "ranker-auc",
                "name": "ranker AUC >= 0.7 per hour",
                "kind": "realized_auc",
                "contract_id": None,
                "objective": 0.99,
                "params": {"threshold": 0.7},
                "period": "P30D",
                "time_scale": 1.0,
                "min_events": 0,
                "pending_seconds": 0.0,
                "runbook_url": None,
                "enabled": True,
            },
        )
        for h in range(6):  # healthy traffic, labels arrive quickly
            log_hour(db, clock.now(), seed=100 + h, requests=60)
            clock.advance(timedelta(hours=1))
        _evaluate(db, clock, settings)
        assert db.scalars(select(Alert)).all() == []
        pending = []
        for h in range(3):  # concept drift: the model scores the same, users click otherwise
            pending += log_hour(
                db, clock.now(), seed=200 + h, requests=60, label_share=0.0, concept_drift=0.95
            )
            clock.advance(timedelta(hours=1))
        _evaluate(db, clock, settings)
        assert db.scalars(select(Alert)).all() == []  # no labels yet: nothing to burn
        db.execute(insert(PredictionLabel), pending)  # the delayed clicks land
        _evaluate(db, clock, settings)
        windows = db.scalars(
            select(ModelQualityWindow)
            .where(ModelQualityWindow.predictions > 0)
            .order_by(ModelQualityWindow.window_start)
        ).all()
        pages = db.scalars(select(Alert).where(Alert.severity == "page")).all()
    healthy, drifted = windows[:6], windows[6:]
    assert all(w.auc is not None and w.auc > 0.7 for w in healthy)
    assert all(w.auc is not None and w.auc < 0.65 for w in drifted)
    # the label-free estimate does not see concept drift
    assert all(abs(w.estimated_auc - healthy[0].estimated_auc) < 0.05 for w in drifted)
    assert len(pages) == 1 and pages[0].state == "firing"
    assert pages[0].evidence["windows"][-1]["coverage"] == 1.0


def _evaluate(db: Session, clock: SimulatedClock, settings: Settings) -> None:
    db.flush()
    record_recent(db, settings=settings)
    slo = get_slo(db, "ranker-auc")
    reconcile(db, slo, evaluate_slo(db, slo), settings=settings)
    db.flush()


def test_quality_api_serves_windows_and_refuses_batch_windows(
    client: TestClient, auth: Auth, db: Session
) -> None:
    with simulated() as clock:
        log_hour(db, clock.now(), seed=9)
        db.commit()
        clock.advance(timedelta(hours=1))
        resp = client.get("/monitors/quality?model=ranker&count=2", headers=auth("viewer"))
        assert resp.status_code == 200, resp.text
        windows = resp.json()["windows"]
        assert [w["status"] for w in windows] == ["no_data", "provisional"]
        bad = client.get("/monitors/quality?window=batch", headers=auth("viewer"))
    assert bad.status_code == 422 and (bad.json()["field"], bad.json()["rule"]) == (
        "window",
        "duration_parses",
    )
    none = client.get("/monitors/quality?model=nobody&count=1", headers=auth("viewer")).json()
    assert none["windows"][0]["status"] == "no_data"


def test_realized_auc_slo_needs_a_threshold(client: TestClient, auth: Auth) -> None:
    body = {"id": "auc", "name": "auc", "kind": "realized_auc", "objective": 0.99}
    resp = client.post("/slos", json=body, headers=auth("admin"))
    assert resp.status_code == 422
    assert (resp.json()["field"], resp.json()["rule"]) == ("params.threshold", "missing")
