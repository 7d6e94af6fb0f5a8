"""Runs recorded with the emit API are forwarded to an external server after commit only."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from core.auth import Principal, Role
from core.settings import Settings
from lineage import emit, naming


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
