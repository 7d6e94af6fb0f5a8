"""Builders for postmortem tests: an incident with a timeline over batches posted through the
API, and predictions served by an affected model version."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from core.clock import utcnow
from incidents.models import Incident, IncidentEvent
from ranker.models import Prediction
from tests.builders import contract, orders, parquet_bytes

Auth = Callable[[str], dict[str, str]]
PARQUET = "application/vnd.apache.parquet"


def post_batch(client: TestClient, auth: Auth, frame: Any) -> dict[str, Any]:
    resp = client.post(
        "/batches?contract=orders",
        content=parquet_bytes(frame),
        headers={**auth("producer"), "Content-Type": PARQUET},
    )
    assert resp.status_code == 201, resp.text
    body: dict[str, Any] = resp.json()
    return body


def received_at(client: TestClient, auth: Auth, batch_id: str) -> datetime:
    body = client.get(f"/batches/{batch_id}", headers=auth("viewer")).json()
    return datetime.fromisoformat(body["received_at"])


@dataclass
class Built:
    incident_id: uuid.UUID
    t0: datetime
    clean: dict[str, Any]
    quarantined: dict[str, Any]
    rejected: dict[str, Any]


def event(
    db: Session, incident: Incident, at: datetime, kind: str, summary: str, **details: Any
) -> None:
    db.add(
        IncidentEvent(
            incident_id=incident.id,
            at=at,
            kind=kind,
            actor="monitor-runner",
            summary=summary,
            details={k: str(v) if isinstance(v, datetime) else v for k, v in details.items()},
            source_key=f"{kind}:{at.isoformat()}:{summary}",
            recorded_at=utcnow(),
        )
    )


def built_incident(
    client: TestClient,
    auth: Auth,
    db: Session,
    *,
    closed: bool = True,
    title: str = "orders batches failing",
) -> Built:
    """Three batches through the API (clean, 2 of 10 rows quarantined, 5 rows rejected), then
    an incident from the quarantined one on: alert at +300 s, stable at +1800 s, alert
    resolved at +3600 s (budget 0.90 → 0.85), closed at +7200 s; model ranker v3 affected."""
    if client.get("/contracts/orders", headers=auth("viewer")).status_code == 404:
        resp = client.post("/contracts", json=contract(), headers=auth("admin"))
        assert resp.status_code == 201, resp.text
    clean = post_batch(client, auth, orders(20))
    quarantined = post_batch(client, auth, orders(10, amount=[10.0, 2000.0, 5.0, -1.0] + [7.0] * 6))
    rejected = post_batch(client, auth, orders(5).drop("placed_at"))
    assert (clean["status"], quarantined["status"], rejected["status"]) == (
        "passed",
        "quarantined",
        "rejected",
    )
    t0 = received_at(client, auth, quarantined["id"])
    incident = Incident(
        title=title,
        severity="major",
        status="closed" if closed else "stable",
        source="batch_failures",
        datasets=["orders"],
        model_name="ranker",
        model_version=3,
        affected={"batches": [quarantined["id"], rejected["id"]]},
        runbook="bad-batch-schema-break",
        details={"threshold": 2},
        first_bad_at=t0,
        opened_at=t0 + timedelta(seconds=300),
        opened_by="monitor-runner",
        stable_at=t0 + timedelta(seconds=1800),
        stable_by="alice",
        closed_at=t0 + timedelta(seconds=7200) if closed else None,
        closed_by="alice" if closed else None,
    )
    db.add(incident)
    db.flush()
    alert = {"alert_id": str(uuid.uuid4()), "slo_id": "orders-pass", "slo_kind": "batch_pass_rate"}
    event(db, incident, t0, "first_bad_batch", "first bad batch", batch_id=quarantined["id"])
    event(db, incident, t0 + timedelta(seconds=300), "opened", "opened", source="alert")
    event(
        db,
        incident,
        t0 + timedelta(seconds=300),
        "alert_firing",
        "orders pass rate burning",
        severity="page",
        budget_remaining=0.90,
        evidence={"batches": [{"batch_id": quarantined["id"]}]},
        **alert,
    )
    event(
        db,
        incident,
        received_at(client, auth, rejected["id"]),
        "batch_failed",
        "batch rejected",
        batch_id=rejected["id"],
    )
    event(db, incident, t0 + timedelta(seconds=1800), "status_change", "active → stable")
    event(
        db,
        incident,
        t0 + timedelta(seconds=3600),
        "alert_resolved",
        "orders pass rate ok",
        severity="page",
        budget_remaining=0.85,
        **alert,
    )
    if closed:
        event(db, incident, t0 + timedelta(seconds=7200), "status_change", "stable → closed")
    db.flush()
    return Built(incident.id, t0, clean, quarantined, rejected)


def served(db: Session, at: datetime, *, version: int = 3, model: str = "ranker") -> None:
    db.add(
        Prediction(
            prediction_id=uuid.uuid4(),
            request_id=uuid.uuid4(),
            served_at=at,
            model_name=model,
            model_version=version,
            user_id="u1",
            item_id="i1",
            position=0,
            score=0.5,
            hour=at.hour,
            features=b"",
        )
    )
