"""Batch checks emit lineage; the emit API forwards to an external server after commit."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from core.auth import Principal, Role
from core.settings import Settings
from lineage import emit, naming
from lineage.validate import validate_event
from tests.builders import contract, orders, parquet_bytes
from tests.lineage.events import column_lineage, dataset, facet, run_event

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
    features = dataset("features/orders_daily", namespace="driftgate")
    event = run_event(
        naming.FEATURES_JOB,
        namespace="etl",
        inputs=[dataset("contracts/orders/accepted", namespace="driftgate", version=batch_id)],
        outputs=[features],
    )
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


def test_contract_impact_lists_columns_models_and_unknown_readers(client, auth, bad_batch) -> None:
    batch_id = bad_batch["id"]
    accepted = ("driftgate", "contracts/orders/accepted")
    features = dataset("features/orders_daily", namespace="driftgate")
    features["facets"]["columnLineage"] = column_lineage(
        total=[(*accepted, "amount")], n=[(*accepted, "quantity")]
    )
    model = dataset("models/ranker", namespace="driftgate", version="3")
    model["facets"]["driftgate"] = facet(model_name="ranker", model_version="3")
    model["facets"]["columnLineage"] = column_lineage(
        weights=[("driftgate", "features/orders_daily", "total")]
    )
    events = [
        run_event(
            "features",
            namespace="etl",
            minutes=1,
            inputs=[dataset(accepted[1], namespace="driftgate", version=batch_id)],
            outputs=[features],
        ),
        run_event(
            "train",
            namespace="etl",
            minutes=2,
            inputs=[dataset("features/orders_daily", namespace="driftgate")],
            outputs=[model],
        ),
        run_event(
            "dashboard",
            namespace="bi",
            minutes=3,
            inputs=[dataset(accepted[1], namespace="driftgate")],
            outputs=[dataset("orders_board", "bi")],
        ),
    ]
    for e in events:
        assert client.post("/api/v1/lineage", json=e, headers=auth("producer")).status_code == 201
    v2 = contract(version="2.0.0")
    v2["fields"] = [f for f in v2["fields"] if f["name"] != "amount"]
    resp = client.post("/contracts/orders/versions", json=v2, headers=auth("admin"))
    assert resp.status_code == 201, resp.text

    body = client.get("/contracts/orders/impact?version=2.0.0", headers=auth("viewer")).json()
    assert body["against"] == "1.0.0"
    [amount] = body["fields"]
    assert amount["field"] == "amount" and amount["changes"] == ["field_removed"]
    reached = {(d["dataset"], d["field"]) for d in amount["downstream"]}
    assert {
        ("dataset:driftgate:contracts/orders/accepted", "amount"),
        ("dataset:driftgate:features/orders_daily", "total"),
        ("dataset:driftgate:models/ranker", "weights"),
    } <= reached
    assert ("dataset:driftgate:features/orders_daily", "n") not in reached
    assert [m["version"] for m in body["model_versions"]] == ["3"]
    assert body["may_be_affected"] == ["dataset:bi:orders_board"]

    proposed = contract(version="3.0.0")
    proposed["fields"] = [f for f in proposed["fields"] if f["name"] != "quantity"]
    resp = client.post(
        "/contracts/orders/impact?against=1.0.0", json=proposed, headers=auth("viewer")
    )
    assert resp.status_code == 200, resp.text
    [quantity] = resp.json()["fields"]
    assert ("dataset:driftgate:features/orders_daily", "n") in {
        (d["dataset"], d["field"]) for d in quantity["downstream"]
    }
    assert resp.json()["model_versions"] == []


def test_contract_impact_without_lineage_is_a_404_naming_why(client, auth) -> None:
    assert client.post("/contracts", json=contract(), headers=auth("admin")).status_code == 201
    resp = client.get("/contracts/orders/impact?version=1.0.0", headers=auth("viewer"))
    assert resp.status_code == 404 and resp.json()["rule"] == "has_lineage"
    missing = client.get("/contracts/orders/impact?version=9.9.9", headers=auth("viewer"))
    assert missing.status_code == 404


# --- the external transport, against a local HTTP sink -------------------------------------


class Sink(BaseHTTPRequestHandler):
    received: list[tuple[str, dict[str, str], dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Sink.received.append((self.path, dict(self.headers), json.loads(body)))
        self.send_response(201)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def sink() -> Iterator[str]:
    Sink.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Sink)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_emitted_runs_go_to_the_external_server_after_commit_only(db: Session, sink: str) -> None:
    settings = Settings(openlineage_url=sink, openlineage_api_key="marquez-key")
    forwarder = emit.http_forwarder(settings)
    assert forwarder is not None
    emit.configure_sessions(db.info, settings, forwarder)
    actor = Principal("ranker", Role.producer)
    model = emit.DatasetRef(
        None,
        naming.model("ranker"),
        version="9",
        links={naming.MODEL_NAME: "ranker", naming.MODEL_VERSION: "9"},
    )
    run_id = emit.record_run(
        db,
        actor,
        job=naming.TRAIN_JOB,
        inputs=[emit.DatasetRef(None, naming.feature_set("feed"), version="b1")],
        outputs=[model],
        run_facets={"training": emit.facet("urn:example:training", auc=0.71)},
    )
    assert forwarder.flush(5) and Sink.received == []  # nothing leaves before commit
    db.commit()
    assert forwarder.flush(5)
    assert [r[2]["eventType"] for r in Sink.received] == ["START", "COMPLETE"]
    path, headers, event = Sink.received[-1]
    assert path == "/api/v1/lineage" and headers["Authorization"] == "Bearer marquez-key"
    assert event["run"]["runId"] == str(run_id)
    assert event["outputs"][0]["facets"]["version"]["datasetVersion"] == "9"
    assert event["run"]["facets"]["training"]["auc"] == 0.71

    emit.record_run(db, actor, job=naming.TRAIN_JOB, outputs=[model])
    db.rollback()
    assert forwarder.flush(5) and len(Sink.received) == 2  # a rolled-back run is never sent
    stored = db.execute(
        text("SELECT state FROM lineage_runs WHERE run_uuid = :r"), {"r": run_id}
    ).scalar()
    assert stored == "COMPLETED"


def test_a_failed_step_is_recorded_as_failed_with_its_error(db: Session) -> None:
    emit.configure_sessions(db.info, Settings(), None)
    run_id = emit.record_run(
        db, Principal("ranker", Role.producer), job=naming.TRAIN_JOB, outcome="FAIL", error="OOM"
    )
    row = db.execute(
        text("SELECT state FROM lineage_runs WHERE run_uuid = :r"), {"r": run_id}
    ).one()
    assert row.state == "FAILED"
    error = db.execute(
        text("SELECT facet FROM lineage_facets WHERE name = 'errorMessage'")
    ).scalar_one()
    assert error["message"] == "OOM"
