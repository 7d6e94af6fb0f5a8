"""Quality per segment: a model that holds up overall can fail one surface, and the split
must show it with the same numbers scikit-learn computes on that surface's rows."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sklearn.metrics import roc_auc_score
from sqlalchemy import insert
from sqlalchemy.orm import Session

from core.settings import Settings
from monitors.quality.service import quality_by_segment, quality_series
from ranker.models import Prediction, PredictionLabel
from tests.monitors.factory import simulated

Auth = Callable[[str], dict[str, str]]


def serve(db: Session, start: datetime, *, surface: str, informative: bool, seed: int) -> dict:
    """One hour of 60 requests of 10 items on `surface`, every label in; scores follow the
    truth (informative) or are noise."""
    rng = np.random.default_rng(seed)
    n = 600
    truth = 1 / (1 + np.exp(-(-2 + 1.5 * rng.normal(size=n))))
    clicks = rng.random(n) < truth
    scores = truth if informative else rng.random(n)
    requests = [uuid.uuid4() for _ in range(60)]
    rows, labels = [], []
    for i in range(n):
        pid, served = uuid.uuid4(), start + timedelta(seconds=5 * (i // 10))
        rows.append(
            {
                "prediction_id": pid,
                "request_id": requests[i // 10],
                "served_at": served,
                "model_name": "ranker",
                "model_version": 1,
                "user_id": f"u{i // 10}",
                "item_id": f"i{i}",
                "position": i % 10,
                "score": float(scores[i]),
                "surface": surface,
                "device": "ios",
                "country": "US",
                "hour": served.hour,
                "features": np.zeros(1, dtype="<f4").tobytes(),
            }
        )
        labels.append(
            {
                "prediction_id": pid,
                "clicked": bool(clicks[i]),
                "dwell_ms": None,
                "label_time": served + timedelta(minutes=5),
                "received_at": served,
                "received_by": "test",
            }
        )
    db.execute(insert(Prediction), rows)
    db.execute(insert(PredictionLabel), labels)
    return {"scores": scores.astype(np.float32), "clicks": clicks}


def test_a_surface_the_model_fails_shows_apart_from_the_ones_it_serves_well(
    db: Session, settings: Settings
) -> None:
    with simulated() as clock:
        hour = clock.now()
        feed = serve(db, hour, surface="feed", informative=True, seed=1)
        search = serve(db, hour, surface="search", informative=False, seed=2)
        db.flush()
        clock.advance(timedelta(hours=1))
        split = quality_by_segment(
            db,
            model="ranker",
            segment="surface",
            window="PT1H",
            start=hour,
            end=None,
            count=1,
            settings=settings,
        )
        overall = quality_series(
            db, model="ranker", window="PT1H", start=hour, end=None, count=1, settings=settings
        )["windows"][0]
    by_value = {s["value"]: s["windows"][0] for s in split["segments"]}
    assert set(by_value) == {"feed", "search"} and split["segments_total"] == 2
    for name, served in (("feed", feed), ("search", search)):
        expected = roc_auc_score(served["clicks"], served["scores"])
        assert by_value[name]["auc"] == pytest.approx(expected, abs=1e-6)
        assert by_value[name]["predictions"] == 600 and by_value[name]["coverage"] == 1.0
    assert by_value["feed"]["auc"] > 0.75 > 0.6 > by_value["search"]["auc"]
    # the overall window blends both: better than the failing surface, worse than the good one
    assert by_value["search"]["auc"] < overall["auc"] < by_value["feed"]["auc"]
    assert overall["predictions"] == sum(w["predictions"] for w in by_value.values())


def test_the_segment_route_serves_the_split_and_names_a_bad_segment(
    client: TestClient, auth: Auth, db: Session
) -> None:
    with simulated() as clock:
        hour = clock.now()
        serve(db, hour, surface="profile", informative=True, seed=3)
        db.commit()
        clock.advance(timedelta(hours=1))
        resp = client.get(
            "/monitors/quality/segments?segment=surface&window=PT1H&count=1",
            headers=auth("viewer"),
        )
        bad = client.get("/monitors/quality/segments?segment=user_id", headers=auth("viewer"))
    assert resp.status_code == 200, resp.text
    doc = resp.json()
    assert doc["segment"] == "surface"
    assert [s["value"] for s in doc["segments"]] == ["profile"]
    assert doc["segments"][0]["windows"][0]["status"] == "provisional"
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")
    assert "segment" in bad.text
