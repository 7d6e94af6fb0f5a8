"""The admin API of simulation runs: queue, list, read; bad input and roles; and one worker
step that plays a queued run and stores its results."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, update
from sqlalchemy.orm import Session, sessionmaker

from core.auth import CLI_OPERATOR
from core.db import make_session_factory, unit_of_work
from core.settings import Settings
from incidents import simulation_runs
from incidents.models import SimulationRun
from incidents.simulation_runs import SimulationCreate
from simulations import worker

Auth = Callable[[str], dict[str, str]]


def test_an_admin_queues_a_run_and_reads_it_back(client: TestClient, auth: Auth) -> None:
    body = {"scenario": "null_spike", "seeds": 2, "params": {"magnitude": 0.5}}
    resp = client.post("/simulations", json=body, headers=auth("admin"))
    assert resp.status_code == 202, resp.text
    run = resp.json()
    assert (run["status"], run["seeds"], run["params"]) == ("queued", 2, {"magnitude": 0.5})
    assert run["results"] is None and run["requested_by"] == "test-admin"
    one = client.get(f"/simulations/{run['id']}", headers=auth("admin"))
    assert one.status_code == 200 and one.json()["id"] == run["id"]
    page = client.get("/simulations", headers=auth("admin")).json()
    assert page["total"] >= 1 and page["items"][0]["id"] == run["id"]
    audit = client.get(
        "/audit", params={"object": f"simulation_run:{run['id']}"}, headers=auth("admin")
    )
    assert audit.status_code == 200 and [e["action"] for e in audit.json()] == ["simulation.queue"]


def test_the_whole_catalog_can_be_queued(client: TestClient, auth: Auth) -> None:
    resp = client.post("/simulations", json={"scenario": "catalog"}, headers=auth("admin"))
    assert resp.status_code == 202 and resp.json()["seeds"] == 3


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"scenario": "meteor_strike"}, "scenario"),
        ({"scenario": "null_spike", "seeds": 0}, "seeds"),
        ({"scenario": "null_spike", "seeds": 500}, "seeds"),
        ({"scenario": "null_spike", "params": {"magnitude": -2}}, "params.magnitude"),
        ({"scenario": "null_spike", "params": {"speed": 2}}, "params.speed"),
        ({"scenario": "null_spike", "colour": "red"}, "colour"),
    ],
)
def test_bad_requests_are_422_naming_the_field(
    client: TestClient, auth: Auth, body: dict[str, object], field: str
) -> None:
    resp = client.post("/simulations", json=body, headers=auth("admin"))
    assert resp.status_code == 422, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    problem = resp.json()
    fields = {problem.get("field")} | {e.get("field") for e in problem.get("errors", [])}
    assert any(f and f.endswith(field) for f in fields), problem


def test_an_unknown_scenario_names_the_rule_and_the_catalog(client: TestClient, auth: Auth) -> None:
    problem = client.post(
        "/simulations", json={"scenario": "meteor_strike"}, headers=auth("admin")
    ).json()
    assert (problem["field"], problem["rule"]) == ("scenario", "known_scenario")
    assert "null_spike" in problem["detail"]


@pytest.mark.parametrize("role", ["viewer", "producer", "reviewer"])
def test_only_admins_run_or_read_simulations(client: TestClient, auth: Auth, role: str) -> None:
    assert (
        client.post("/simulations", json={"scenario": "null_spike"}, headers=auth(role)).status_code
        == 403
    )
    assert client.get("/simulations", headers=auth(role)).status_code == 403


def test_without_a_token_or_for_an_unknown_run(client: TestClient, auth: Auth) -> None:
    assert client.post("/simulations", json={"scenario": "null_spike"}).status_code == 401
    missing = client.get(f"/simulations/{uuid.uuid4()}", headers=auth("admin"))
    assert missing.status_code == 404 and missing.json()["field"] == "run_id"
    assert client.get("/simulations/not-a-uuid", headers=auth("admin")).status_code == 422


def _queue(sessions: sessionmaker[Session], scenario: str, **params: float) -> uuid.UUID:
    with unit_of_work(sessions) as s:
        body = SimulationCreate.model_validate({"scenario": scenario, "seeds": 1, "params": params})
        return simulation_runs.queue_run(s, CLI_OPERATOR, body=body).id


def test_a_worker_step_stores_a_failure_when_the_run_cannot_start(
    committed_db: str, settings: Settings
) -> None:
    engine = create_engine(committed_db)
    sessions = make_session_factory(engine)
    try:
        run_id = _queue(sessions, "null_spike")
        with unit_of_work(sessions) as s:  # a record the API would never have accepted
            s.execute(update(SimulationRun).values(params={"speed": 2}))
        assert worker.step(sessions, settings) == run_id
        assert worker.step(sessions, settings) is None  # nothing else queued
        with unit_of_work(sessions) as s:
            run = simulation_runs.get_run(s, run_id)
            assert run.status == "failed" and run.error and "speed" in run.error
            assert run.started_at is not None and run.finished_at is not None
    finally:
        engine.dispose()


@pytest.mark.slow
def test_a_worker_step_plays_a_queued_run_and_the_api_serves_its_results(
    committed_db: str, settings: Settings, tmp_path: Path
) -> None:
    from api.app import create_app
    from core.auth import Role, create_token

    engine = create_engine(committed_db)
    sessions = make_session_factory(engine)
    try:
        short = {"baseline_hours": 1, "duration_hours": 1, "recovery_hours": 1}
        run_id = _queue(sessions, "unit_change", **short)
        with unit_of_work(sessions) as s:
            token = create_token(s, CLI_OPERATOR, name="sim-admin", role=Role.admin, prefix="dg_")
        assert worker.step(sessions, settings) == run_id
        app = create_app(
            settings.model_copy(update={"ranker_serving": False}), database_url=committed_db
        )
        with TestClient(app) as client:
            doc = client.get(
                f"/simulations/{run_id}", headers={"Authorization": f"Bearer {token}"}
            ).json()
    finally:
        engine.dispose()
    assert doc["status"] == "succeeded", doc["error"]
    (row,) = doc["results"]["scenarios"]
    assert (row["scenario"], row["seeds"], row["detected"], row["rows_lost"]) == (
        "unit_change",
        1,
        1,
        0,
    )
    (seed,) = doc["results"]["runs"]
    assert seed["detect_after_ingest_seconds"] <= 60 and seed["incidents"]
