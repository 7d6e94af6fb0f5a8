"""The ranker's steps land in lineage: raw batches → features → model → predictions, both ways."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
import polars as pl
import psycopg
import pytest
from fastapi.testclient import TestClient
from openlineage.client.transport.transport import Transport
from sqlalchemy import text
from sqlalchemy.orm import sessionmaker

from api.app import create_app
from core.auth import CLI_OPERATOR
from core.errors import InvalidInput
from core.settings import Settings
from governance.flows import train_and_register
from governance.registry import service as registry
from lineage import emit, naming
from ranker.lineage_runs import feature_build_id, serve_run_id
from ranker.prediction_rows import ServedRequest, to_frame
from ranker.predlog import PredictionLogger, new_request_id, write_frame
from tests.ranker.test_serving import known_ids, rank, serving_client
from tests.support.trained import Trained, bearer

NS = "driftgate"


def _node(name: str, version: str | None = None) -> str:
    return quote(f"dataset:{NS}:{name}" + (f"#{version}" if version else ""), safe=":")


def _get(client: TestClient, trained: Trained, url: str) -> dict[str, Any]:
    resp = client.get(url, headers=bearer(trained, "viewer"))
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


def _window_of(trained: Trained, request_id: str) -> tuple[str, int]:
    """The prediction window a served request was logged in, and the version that served it."""
    with trained.engine.connect() as conn:
        served_at, version = conn.execute(
            text("SELECT served_at, model_version FROM predictions WHERE request_id = :r LIMIT 1"),
            {"r": request_id},
        ).one()
    start = served_at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return naming.prediction_window(start, timedelta(hours=1)), version


def _build_id(trained: Trained, version: int) -> str:
    """The feature build a registered version was trained on, from the registry's own record."""
    with trained.sessions() as s:
        row = registry.get_version(s, "ranker", version)
        recipe = {"splits": row.params["splits"], "params": row.params["features"]["params"]}
        return feature_build_id(row.training_data, recipe)


def _training_batches(trained: Trained, version: int) -> list[dict[str, Any]]:
    with trained.sessions() as s:
        return list(registry.get_version(s, "ranker", version).training_data)


def test_training_records_features_train_evaluate_and_register_under_the_model_version(
    trained: Trained,
) -> None:
    v, build = trained.version, _build_id(trained, trained.version)
    app = create_app(trained.settings(), database_url=trained.url)
    with TestClient(app) as client:
        model = _get(client, trained, f"/lineage/provenance?node={_node('models/ranker', str(v))}")
        registered = _get(
            client, trained, f"/lineage/provenance?node={_node('registry/ranker', str(v))}"
        )
        evaluated = _get(
            client, trained, f"/lineage/provenance?node={_node('evaluations/ranker', str(v))}"
        )
    names = {(d["name"], d["version"]) for d in model["datasets"]}
    assert ("features/feed", build) in names
    assert {
        "driftgate:ranker.train",
        "driftgate:ranker.features",
        "driftgate:checks.validate.impressions",
        "driftgate:checks.validate.labels",
    } <= set(model["jobs"])
    # exactly the batches the registry says the version was trained on, each by its batch id
    expected = {b["batch_id"] for b in _training_batches(trained, v)}
    assert {b["batch_id"] for b in model["batches"]} == expected
    assert {(d["name"], d["version"]) for d in model["datasets"] if d["depth"] == 2} == {
        (naming.accepted_rows(b["contract_id"]), b["batch_id"])
        for b in _training_batches(trained, v)
    }
    assert {c["contract_id"] for c in model["contract_versions"]} == {"impressions", "labels"}
    assert "driftgate:governance.register" in registered["jobs"]
    assert {b["batch_id"] for b in registered["batches"]} == expected
    assert {(d["name"], d["version"]) for d in evaluated["datasets"] if d["depth"] == 1} == {
        ("models/ranker", str(v)),
        ("features/feed", build),
    }
    run = next(r for r in evaluated["runs"] if r["job"]["name"] == naming.EVALUATE_JOB)
    assert run["links"] == {"model_name": "ranker", "model_version": str(v)}


def test_served_predictions_walk_back_to_raw_batches_and_a_raw_batch_reaches_them(
    trained: Trained,
) -> None:
    user, items = known_ids(trained, 10)
    with serving_client(trained) as client:  # leaving it flushes the prediction log
        request_id = rank(client, trained, user_id=user, item_ids=items).json()["request_id"]
    window, v = _window_of(trained, request_id)
    assert v == trained.version  # the trained champion (serving tests swap and restore it)
    batches = _training_batches(trained, v)
    impressions = next(b["batch_id"] for b in batches if b["contract_id"] == "impressions")
    with trained.engine.connect() as conn:
        body_sha256 = conn.execute(
            text("SELECT body_sha256 FROM batches WHERE id = :b"), {"b": impressions}
        ).scalar_one()
    app = create_app(trained.settings(), database_url=trained.url)
    with TestClient(app) as client:
        up = _get(
            client, trained, f"/lineage/provenance?node={_node('predictions/ranker', window)}"
        )
        marquez = _get(
            client, trained, f"/api/v1/lineage?nodeId={_node('predictions/ranker')}&depth=10"
        )
        down = _get(client, trained, f"/lineage/impact?batch={impressions}")
        raw = _get(
            client,
            trained,
            f"/lineage/impact?dataset={NS}:feed.impressions&version={body_sha256}",
        )
    versions = {(d["name"], d["version"]) for d in up["datasets"]}
    assert {("models/ranker", str(v)), ("features/feed", _build_id(trained, v))} <= versions
    assert (naming.accepted_rows("impressions"), impressions) in versions
    assert {b["batch_id"] for b in batches} <= {b["batch_id"] for b in up["batches"]}
    assert {
        "driftgate:ranker.serve",
        "driftgate:ranker.train",
        "driftgate:ranker.features",
        "driftgate:checks.validate.impressions",
    } <= set(up["jobs"])
    assert {
        f"job:{NS}:ranker.serve",
        f"job:{NS}:ranker.train",
        f"job:{NS}:ranker.features",
        f"dataset:{NS}:{naming.accepted_rows('impressions')}",
        f"dataset:{NS}:feed.impressions",
    } <= {n["id"] for n in marquez["graph"]}
    for impact in (down, raw):
        assert window in {w["version"] for w in impact["prediction_windows"]}
        assert ("models/ranker", str(v)) in {
            (m["name"], m["version"]) for m in impact["model_versions"]
        }
        assert {"driftgate:ranker.features", "driftgate:ranker.serve"} <= set(impact["jobs"])


def _served(at: datetime, version: int, model: str, n: int = 3) -> ServedRequest:
    return ServedRequest(
        new_request_id(),
        at,
        model,
        version,
        "u1",
        [f"i{k}" for k in range(n)],
        np.linspace(0.9, 0.1, n),
        np.zeros((n, 18), dtype=np.float32),
        "feed",
        None,
        None,
        at.hour,
    )


def _serve_lineage(trained: Trained, model: str) -> dict[str, Any]:
    """Runs, events and model-version inputs of `ranker.serve` for one model's windows."""
    with trained.engine.connect() as conn:
        runs = conn.execute(
            text(
                "SELECT r.run_uuid, r.links->>'prediction_window' AS window FROM lineage_runs r "
                "JOIN lineage_jobs j ON j.id = r.job_id "
                "WHERE j.name = :job AND r.links->>'model_name' = :m"
            ),
            {"job": naming.SERVE_JOB, "m": model},
        ).all()
        events = conn.execute(
            text("SELECT count(*) FROM lineage_events WHERE run_uuid = ANY(CAST(:runs AS uuid[]))"),
            {"runs": [str(r.run_uuid) for r in runs]},
        ).scalar_one()
        inputs = conn.execute(
            text(
                "SELECT r.links->>'prediction_window' AS window, v.version "
                "FROM lineage_runs r JOIN lineage_run_io io ON io.run_id = r.id "
                "JOIN lineage_dataset_versions v ON v.id = io.version_id "
                "WHERE r.run_uuid = ANY(CAST(:runs AS uuid[])) AND io.direction = 'in'"
            ),
            {"runs": [str(r.run_uuid) for r in runs]},
        ).all()
    models: dict[str, set[str]] = {}
    for row in inputs:
        models.setdefault(row.window, set()).add(row.version)
    return {"runs": {r.window: r.run_uuid for r in runs}, "events": events, "models": models}


class _Collecting(Transport):
    """Stands in for an external OpenLineage server (the machine's boundary)."""

    kind = "collecting"

    def __init__(self, sent: list[Any]) -> None:
        self.sent = sent

    def emit(self, event: Any) -> Any:
        self.sent.append(event)


def test_the_log_records_each_window_once_per_model_version_not_per_request_or_flush(
    trained: Trained, tmp_path: Path
) -> None:
    model = f"probe-{uuid.uuid4().hex[:8]}"
    ten, eleven = datetime(2026, 11, 5, 10, tzinfo=UTC), datetime(2026, 11, 5, 11, tzinfo=UTC)
    w10, w11 = (naming.prediction_window(t, timedelta(hours=1)) for t in (ten, eleven))
    # Sessions like the app's: emitted events also go to an external OpenLineage server after
    # commit, so what the log emits (even what the store already has) can be counted there.
    sent: list[Any] = []
    forwarder = emit.Forwarder(_Collecting(sent))
    info: dict[str, Any] = {}
    emit.configure_sessions(info, Settings(), forwarder)
    logger = PredictionLogger(
        trained.engine,
        spill_dir=tmp_path,
        flush_seconds=3600,
        sessions=sessionmaker(bind=trained.engine, info=info),
    )
    for minute in (1, 20, 59):
        logger.log(_served(ten + timedelta(minutes=minute), 1, model))
    logger.log(_served(eleven + timedelta(minutes=5), 1, model))
    assert logger.flush() == 12
    first = _serve_lineage(trained, model)
    assert first["runs"] == {
        w10: serve_run_id(NS, model, w10),
        w11: serve_run_id(NS, model, w11),
    }
    assert first["events"] == 4  # a START and a COMPLETE per window, not per request
    assert forwarder.flush(5) and len(sent) == 4
    for _ in range(3):  # more flushes into known windows emit nothing at all
        logger.log(_served(ten + timedelta(minutes=30), 1, model))
        assert logger.flush() == 3
    assert forwarder.flush(5) and len(sent) == 4
    assert _serve_lineage(trained, model) == first
    # another process writing the same window records the same events: stored once
    other = PredictionLogger(trained.engine, spill_dir=tmp_path, flush_seconds=3600)
    other.log(_served(ten + timedelta(minutes=40), 1, model))
    other.flush()
    assert _serve_lineage(trained, model) == first
    # a second version served in the window joins the window's run as another input
    other.log(_served(ten + timedelta(minutes=45), 2, model))
    other.flush()
    after = _serve_lineage(trained, model)
    assert after["runs"] == first["runs"] and after["events"] == 6
    assert after["models"] == {w10: {"1", "2"}, w11: {"1"}}


def test_a_prediction_write_that_rolls_back_leaves_no_lineage(
    trained: Trained, tmp_path: Path
) -> None:
    model = f"probe-{uuid.uuid4().hex[:8]}"
    at = datetime(2026, 11, 6, 8, 10, tzinfo=UTC)
    sessions = sessionmaker(bind=trained.engine)
    written = to_frame([_served(at, 1, model)])
    assert len(write_frame(sessions, written)) == 1
    later = to_frame([_served(at + timedelta(hours=1), 1, model)])
    # the same prediction ids again: the COPY fails, so the new window's lineage goes too
    with pytest.raises(psycopg.errors.UniqueViolation):
        write_frame(sessions, pl.concat([later, written]))
    assert set(_serve_lineage(trained, model)["runs"]) == {
        naming.prediction_window(at.replace(minute=0), timedelta(hours=1))
    }
    assert len(write_frame(sessions, later)) == 1  # retried alone, it records its window
    assert len(_serve_lineage(trained, model)["runs"]) == 2


def _counts(trained: Trained) -> dict[str, int]:
    with trained.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT j.name, count(*) FROM lineage_runs r "
                "JOIN lineage_jobs j ON j.id = r.job_id "
                "WHERE j.name = ANY(:jobs) GROUP BY j.name"
            ),
            {"jobs": [naming.FEATURES_JOB, naming.TRAIN_JOB, naming.EVALUATE_JOB]},
        ).all()
    return dict(rows)


def test_a_training_whose_registration_is_refused_leaves_no_lineage(trained: Trained) -> None:
    before = _counts(trained)
    assert set(before) == {naming.FEATURES_JOB, naming.TRAIN_JOB, naming.EVALUATE_JOB}
    with pytest.raises(InvalidInput) as refused:
        train_and_register(
            trained.sessions,
            CLI_OPERATOR,
            model_name="Not A Model Name",
            start=trained.start,
            end=trained.start + timedelta(days=1),
            data_dir=trained.data_dir,
            generate=False,
        )
    assert refused.value.rule == "pattern"
    assert _counts(trained) == before
