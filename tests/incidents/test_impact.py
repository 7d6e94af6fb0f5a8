"""Impact through lineage: the batches, the model versions trained on them, the predictions
they served while the incident was open."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from core.settings import Settings
from incidents import intake, service
from incidents.impact import impact
from ranker.models import Prediction
from tests.incidents.builders import lineage_model
from tests.monitors.factory import batch_row, register

T0 = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)


def _served(db: Session, at: datetime, n: int, version: int = 1) -> None:
    request = uuid.uuid4()
    for i in range(n):
        db.add(
            Prediction(
                prediction_id=uuid.UUID(int=(request.int & ~0xFFF) | i),
                request_id=request,
                served_at=at,
                model_name="ranker",
                model_version=version,
                user_id="u1",
                item_id=f"i{i}",
                position=i,
                score=0.5,
                hour=at.hour,
                features=b"",
            )
        )
    db.flush()


def test_impact_counts_batches_versions_trained_on_them_and_predictions_served(
    db: Session, settings: Settings
) -> None:
    register(db)
    bad = [batch_row(db, T0 + timedelta(minutes=m), "rejected") for m in (1, 2, 3)]
    lineage_model(db, ["events"], version=1, batch_ids={"events": str(bad[0].id)})
    lineage_model(db, ["events"], version=2)  # downstream of the dataset, not of these batches
    [incident] = intake.batch_failures(db, now=T0 + timedelta(minutes=5), settings=settings)
    _served(db, T0 - timedelta(minutes=30), 4)  # before the first bad batch: not counted
    _served(db, T0 + timedelta(minutes=10), 3)
    _served(db, T0 + timedelta(minutes=20), 2, version=2)
    service.change_status(db, intake.MONITOR, incident.id, status="closed", reason="fixed")
    incident.closed_at = T0 + timedelta(hours=1)  # the clock of the test, not the wall's
    _served(db, T0 + timedelta(hours=2), 5)  # after closing: not counted
    doc = impact(db, incident, namespace=settings.lineage_namespace)
    assert doc["window"]["start"] == bad[0].received_at and doc["window"]["open"] is False
    assert doc["batches"]["count"] == 3 and doc["batches"]["by_status"] == {"rejected": 3}
    assert doc["batches"]["rows_quarantined"] == 3
    versions = {
        (v["version"], v["trained_on_affected_batches"], v["predictions"])
        for v in doc["model_versions"]
    }
    assert versions == {(1, True, 3), (2, False, 2)}
    assert doc["predictions_served"] == 5
    assert doc["error_budget"] == {"consumed": None, "slos": []}
