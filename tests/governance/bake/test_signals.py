"""Bake guard signals from stored data: score shift against the offline distribution, realized
quality from monitors' windows, and the in-process serving statistics."""

from __future__ import annotations

import uuid
from datetime import timedelta

import numpy as np
import pytest

from core.clock import utcnow
from governance.bake import guard, signals
from governance.bake.serving_probe import RankStats
from governance.promotions.comparison import score_reference
from governance.promotions.models import PromotionRequest
from monitors.quality.models import ModelQualityWindow
from ranker.models import Prediction
from tests.governance.conftest import FAST_POLICY, Gov

SIGNAL_POLICY = FAST_POLICY.replace(
    "bake: {enabled: false}",
    "bake: {duration: 1h, min_predictions: 300, max_score_psi: 0.2, max_auc_drop: 0.05}",
)


def promoted(gov: Gov) -> PromotionRequest:
    gov.policy(SIGNAL_POLICY)
    v1, v2 = gov.register(), gov.register()
    gov.crown(v1)
    doc = gov.open(v2)
    gov.decide(doc["id"], "rev-ann")
    gov.decide(doc["id"], "rev-bob")
    resp = gov.client.post(f"/promotion-requests/{doc['id']}/promote", headers=gov.as_("rev-ann"))
    assert resp.status_code == 200 and resp.json()["bake_state"] == "baking"
    req = gov.db.get(PromotionRequest, uuid.UUID(doc["id"]))
    assert req is not None
    offline = np.random.default_rng(1).beta(2, 30, 20_000)
    # Stand in for the metrics gate's comparison (disabled in the fast policy).
    req.evaluation = {"score_reference": score_reference(offline), "candidate": {"auc": 0.74}}
    gov.db.commit()
    return req


def serve(gov: Gov, req: PromotionRequest, scores: np.ndarray) -> None:
    assert req.promoted_at is not None
    request_id = uuid.uuid4()
    gov.db.add_all(
        Prediction(
            prediction_id=uuid.uuid4(),
            request_id=request_id,
            served_at=req.promoted_at + timedelta(minutes=1),
            model_name="ranker",
            model_version=req.version,
            user_id="u1",
            item_id=f"i{i}",
            position=i % 100,
            score=float(s),
            surface="feed",
            device="ios",
            country="US",
            hour=12,
            features=np.zeros(1, dtype="<f4").tobytes(),
        )
        for i, s in enumerate(scores)
    )
    gov.db.commit()


def quality_window(gov: Gov, req: PromotionRequest, auc: float) -> None:
    assert req.promoted_at is not None
    start = req.promoted_at + timedelta(minutes=5)
    gov.db.add(
        ModelQualityWindow(
            model_name="ranker",
            model_versions=[req.version],
            window_start=start,
            window_end=start + timedelta(hours=1),
            status="mature",
            predictions=1000,
            labeled=900,
            coverage=0.9,
            auc=auc,
            metrics={},
            estimated_auc=0.73,
            estimated_ctr=0.04,
            score_psi=None,
            computed_at=utcnow(),
        )
    )
    gov.db.commit()


def by_name(report: signals.BakeReport) -> dict[str, signals.Signal]:
    return {s.name: s for s in report.signals}


def test_scores_like_the_offline_ones_and_quality_near_offline_are_ok(gov: Gov) -> None:
    req = promoted(gov)
    serve(gov, req, np.random.default_rng(2).beta(2, 30, 800))
    quality_window(gov, req, auc=0.72)
    got = by_name(signals.evaluate(gov.db, req, None))
    assert got["score_shift"].status == "ok" and got["score_shift"].value < 0.05
    assert got["quality"].status == "ok" and "realized AUC 0.7200" in got["quality"].detail
    assert got["error_rate"].status == "no_data"  # no serving statistics in this process


def test_shifted_scores_and_a_quality_drop_are_breaches_that_roll_back(gov: Gov) -> None:
    req = promoted(gov)
    serve(gov, req, np.random.default_rng(3).beta(2, 8, 800))  # scores far higher than offline
    quality_window(gov, req, auc=0.61)
    report = signals.evaluate(gov.db, req, None)
    got = by_name(report)
    assert report.verdict == "breach"
    assert got["score_shift"].status == "breach" and got["score_shift"].value > 0.2
    assert got["quality"].status == "breach"
    outcome = guard.guard_once(gov.db, stats=None)
    gov.db.commit()
    assert outcome.rolled_back[0]["from"] == req.version
    assert gov.get(str(req.id))["bake_state"] == "rolled_back"
    champion = gov.client.get("/models/ranker/champion", headers=gov.as_("test-viewer")).json()
    assert champion["version"] == req.previous_version


def test_too_few_scores_is_no_data_not_ok(gov: Gov) -> None:
    req = promoted(gov)
    serve(gov, req, np.random.default_rng(4).beta(2, 30, 100))
    got = by_name(signals.evaluate(gov.db, req, None))
    assert got["score_shift"].status == "no_data" and "100 of 300" in got["score_shift"].detail
    assert got["quality"].status == "no_data"


def test_rank_stats_summarize_errors_and_p99_per_version_since_a_moment() -> None:
    stats = RankStats()
    now = utcnow()
    for i in range(200):
        stats.add(now.timestamp() + i, "ranker", 2, 500 if i % 50 == 0 else 200, float(i))
    stats.add(now.timestamp() - 100, "ranker", 2, 500, 9999.0)  # before the promotion
    stats.add(now.timestamp(), "ranker", 1, 500, 1.0)  # another version
    summary = stats.summary("ranker", 2, now)
    assert (summary.requests, summary.errors) == (200, 4)
    assert summary.error_rate == pytest.approx(0.02)
    assert summary.latency_p99_ms == pytest.approx(np.quantile(np.arange(200.0), 0.99))
    assert stats.summary("ranker", 3, now).requests == 0
