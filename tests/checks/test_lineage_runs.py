"""A batch check is recorded as a lineage run, so its rows can be followed downstream."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from lineage import naming
from lineage.validate import validate_event
from tests.builders import contract, orders, parquet_bytes
from tests.lineage.events import dataset, run_event
from tests.lineage.writer_fixture import app  # noqa: F401 (lineage ingest in the test's session)

PARQUET = {"Content-Type": "application/vnd.apache.parquet"}


def submit(client: Any, auth: Any, frame: Any) -> dict[str, Any]:
    resp = client.post(
        "/batches?contract=orders",
        content=parquet_bytes(frame),
        headers={**auth("producer"), **PARQUET},
    )
    assert resp.status_code == 201, resp.text
    return dict(resp.json())


@pytest.fixture
def bad_batch(client, auth) -> dict[str, Any]:
    assert client.post("/contracts", json=contract(), headers=auth("admin")).status_code == 201
    return submit(client, auth, orders(20, amount=[5000.0] + [10.0] * 19))


def test_a_checked_batch_is_a_run_with_its_quality_facets(
    client, auth, db: Session, bad_batch
) -> None:
    batch_id = bad_batch["id"]
    viewer = auth("viewer")
    graph = client.get("/lineage/graph?node=job:driftgate:checks.validate.orders", headers=viewer)
    found = {n["id"]: n for n in graph.json()["graph"]}
    assert {
        "dataset:shop:orders",
        "dataset:driftgate:contracts/orders/accepted",
        "dataset:driftgate:contracts/orders/quarantine",
    } <= set(found)
    job = found["job:driftgate:checks.validate.orders"]["data"]
    run = client.get(f"/lineage/runs/{job['latestRun']['id']}", headers=viewer).json()
    assert run["state"] == "COMPLETED" and run["links"]["batch_id"] == batch_id
    assert [h["eventType"] for h in run["history"]] == ["START", "COMPLETE"]
    assert {o["version"] for o in run["outputs"]} == {batch_id}
    assert run["inputs"] == [
        {"namespace": "shop", "name": "orders", "version": bad_batch["body_sha256"]}
    ]
    accepted = found["dataset:driftgate:contracts/orders/accepted"]["data"]
    assert [f["name"] for f in accepted["fields"]][:2] == ["order_id", "amount"]
    metrics = accepted["facets"]["dataQualityMetrics"]
    assert metrics["rowCount"] == bad_batch["rows_accepted"] == 19
    assert metrics["columnMetrics"]["amount"]["max"] == 10.0

    prov = client.get(
        f"/lineage/provenance?node=dataset:driftgate:contracts/orders/accepted%23{batch_id}",
        headers=viewer,
    ).json()
    assert [b["batch_id"] for b in prov["batches"]] == [batch_id]
    assert prov["contract_versions"] == [{"contract_id": "orders", "version": "1.0.0"}]
    [check] = prov["check_results"]
    assert check["batch_id"] == batch_id and check["failed"] >= 1
    assert {"assertion": "amount.max", "column": "amount"} in check["failed_assertions"]
    events = db.execute(text("SELECT payload FROM lineage_events")).scalars().all()
    assert all(validate_event(e) == "RunEvent" for e in events)


def test_impact_of_a_bad_batch_names_what_it_touched(client, auth, bad_batch) -> None:
    batch_id = bad_batch["id"]
    # An outside job reads driftgate's accepted rows by name (it may not name their version)
    # and writes under its own namespace; it read the batch's rows because it ran after them.
    event = run_event(
        naming.FEATURES_JOB,
        namespace="etl",
        inputs=[dataset("contracts/orders/accepted", namespace="driftgate")],
        outputs=[dataset("features/orders_daily", namespace="etl")],
    )
    received = datetime.fromisoformat(bad_batch["received_at"].replace("Z", "+00:00"))
    event["eventTime"] = (received + timedelta(minutes=5)).isoformat()
    assert client.post("/api/v1/lineage", json=event, headers=auth("producer")).status_code == 201
    body = client.get(f"/lineage/impact?batch={batch_id}", headers=auth("viewer")).json()
    assert {v["name"] for v in body["root"]["versions"]} == {
        "orders",
        "contracts/orders/accepted",
        "contracts/orders/quarantine",
    }
    assert {d["name"] for d in body["datasets"]} == {"features/orders_daily"}
    assert "etl:ranker.features" in body["jobs"]
    unknown = client.get(f"/lineage/impact?batch={uuid.uuid4()}", headers=auth("viewer"))
    assert unknown.status_code == 404
