"""POST /rank serves only the verified champion, swaps it live, and logs every score."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from api.app import create_app
from core.auth import CLI_OPERATOR
from governance.promotions import break_glass
from governance.registry import service as registry
from governance.registry.schemas import ModelVersionCreate
from ranker import artifact
from ranker.prediction_rows import ServedRequest, unpack
from ranker.predlog import PredictionLogger, new_request_id
from tests.support.servers import serve, wait_until
from tests.support.trained import Trained, bearer


@contextmanager
def serving_client(trained: Trained, **settings: Any) -> Iterator[TestClient]:
    app = create_app(trained.settings(**settings), database_url=trained.url)
    with TestClient(app, raise_server_exceptions=False) as client:
        wait_for_version(client, bearer(trained, "viewer"), None)
        yield client


def wait_for_version(
    client: Any, headers: dict[str, str], version: int | None, timeout: float = 30
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = client.get("/rank/status", headers=headers).json()
        if status["serving"] and (version is None or status["served_version"] == version):
            return status  # type: ignore[no-any-return]
        time.sleep(0.05)
    raise AssertionError(f"not serving version {version}: {status}")


def known_ids(trained: Trained, n_items: int = 30) -> tuple[str, list[str]]:
    with trained.engine.connect() as conn:
        user = conn.execute(text("SELECT 'u000001'")).scalar_one()
    payload = current_payload(trained)
    return user, list(payload["snapshot"]["item_ids"][-n_items:])


def current_payload(trained: Trained) -> dict[str, Any]:
    with trained.sessions() as s:
        row = registry.get_version(s, "ranker", trained.version)
        return artifact.read(
            artifact.path_of(row.artifact_uri, trained.data_dir), row.artifact_sha256
        )


def register_copy(trained: Trained, note: str) -> tuple[int, Path]:
    """A new version whose artifact differs from v1 only by a note (so a new sha256)."""
    payload = current_payload(trained)
    payload.pop("format")
    payload["note"] = note
    stored = artifact.write(payload, data_dir=trained.data_dir, model_name="ranker")
    with trained.sessions.begin() as s:
        row = registry.get_version(s, "ranker", trained.version)
        body = ModelVersionCreate(
            artifact_uri=stored.uri,
            artifact_sha256=stored.sha256,
            signature=row.signature,  # type: ignore[arg-type]
            metrics=row.metrics,
            training_data=row.training_data,  # type: ignore[arg-type]
            params=row.params,
            description=note,
        )
        version = registry.register_version(
            s, CLI_OPERATOR, name="ranker", body=body, data_dir=trained.data_dir
        ).version
    return version, stored.path


def set_champion(trained: Trained, version: int) -> None:
    with trained.sessions.begin() as s:
        break_glass.set_champion(s, CLI_OPERATOR, name="ranker", version=version, reason="test")


def rank(client: Any, trained: Trained, **body: Any) -> Any:
    return client.post("/rank", json=body, headers=bearer(trained, "viewer"))


def test_rank_orders_items_by_score_with_a_prediction_id_each(trained: Trained) -> None:
    user, items = known_ids(trained)
    with serving_client(trained) as client:
        resp = rank(
            client,
            trained,
            user_id=user,
            item_ids=[*items, "brand-new-item"],
            context={"surface": "feed", "hour": 20},
        )
    assert resp.status_code == 200, resp.text
    doc = resp.json()
    scores = [x["score"] for x in doc["items"]]
    assert scores == sorted(scores, reverse=True) and len(set(scores)) > 10
    assert doc["model"] == {"name": "ranker", "version": trained.version}
    assert [x["position"] for x in doc["items"]] == list(range(len(items) + 1))
    ids = [uuid.UUID(x["prediction_id"]) for x in doc["items"]]
    request_id = uuid.UUID(doc["request_id"])
    assert [i.int - request_id.int for i in ids] == list(range(len(ids)))
    assert {x["item_id"] for x in doc["items"]} == set(items) | {"brand-new-item"}


def test_unknown_users_and_items_are_scored_with_cold_start_defaults(trained: Trained) -> None:
    with serving_client(trained) as client:
        resp = rank(client, trained, user_id="never-seen", item_ids=["x1", "x2", "x3"])
        assert resp.status_code == 200
        items = resp.json()["items"]
        assert sorted(x["item_id"] for x in items) == ["x1", "x2", "x3"]
        # The same cold-start row for each: the same score (up to float rounding in the MLP).
        scores = [x["score"] for x in items]
        assert max(scores) - min(scores) < 1e-6 and 0 < scores[0] < 0.5


@pytest.mark.parametrize(
    ("body", "status", "field", "rule"),
    [
        ({"item_ids": ["a"]}, 422, "user_id", "missing"),
        ({"user_id": "u", "item_ids": []}, 422, "item_ids", "too_short"),
        ({"user_id": "u", "item_ids": ["a", "a"]}, 422, "item_ids", "unique_items"),
        (
            {"user_id": "u", "item_ids": [str(i) for i in range(6)]},
            422,
            "item_ids",
            "max_candidates",
        ),
        (
            {"user_id": "u", "item_ids": ["a"], "context": {"hour": 24}},
            422,
            "context.hour",
            "less_than_equal",
        ),
        (
            {"user_id": "u", "item_ids": ["a"], "context": {"surface": "tv"}},
            422,
            "context.surface",
            "literal_error",
        ),
        ({"user_id": "u", "item_ids": [7]}, 422, "item_ids.0", "string_type"),
        ({"user_id": "u", "item_ids": ["a"], "limit": 3}, 422, "limit", "extra_forbidden"),
        ({"user_id": "", "item_ids": ["a"]}, 422, "user_id", "string_too_short"),
        ({"user_id": "u", "item_ids": ["a", "b\x00"]}, 422, "body", "value_error"),
    ],
)
def test_malformed_rank_requests_get_a_problem_naming_field_and_rule(
    trained: Trained, body: dict[str, Any], status: int, field: str, rule: str
) -> None:
    with serving_client(trained, ranker_max_candidates=5) as client:
        resp = rank(client, trained, **body)
        assert resp.status_code == status, resp.text
        assert resp.headers["content-type"].startswith("application/problem+json")
        assert (resp.json()["field"], resp.json()["rule"]) == (field, rule)
        broken = client.post(
            "/rank",
            content=b"{not json",
            headers={**bearer(trained, "viewer"), "Content-Type": "application/json"},
        )
        assert broken.status_code == 400
        assert client.post("/rank", json={"user_id": "u", "item_ids": ["a"]}).status_code == 401


def test_without_a_champion_rank_answers_503_not_500(committed_db: str, tmp_path: Path) -> None:
    from sqlalchemy.orm import sessionmaker

    from core.auth import Role, create_token
    from core.settings import Settings

    engine = create_engine(committed_db)
    with sessionmaker(bind=engine).begin() as s:
        token = create_token(s, CLI_OPERATOR, name="v", role=Role.viewer, prefix="dg_")
    engine.dispose()
    app = create_app(Settings(data_dir=tmp_path, monitor_runner=False), database_url=committed_db)
    with TestClient(app) as client:
        resp = client.post(
            "/rank",
            json={"user_id": "u", "item_ids": ["a"]},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert resp.status_code == 503
        assert resp.json()["rule"] == "champion_loaded"
        assert (
            client.get("/rank/status", headers={"Authorization": f"Bearer {token}"}).json()[
                "serving"
            ]
            is False
        )


@pytest.mark.slow
def test_a_new_champion_is_served_without_restart_and_no_request_in_flight_fails(
    trained: Trained,
) -> None:
    v2, _ = register_copy(trained, "hot swap")
    user, items = known_ids(trained)
    seen: list[list[int]] = [[] for _ in range(4)]
    failures: list[str] = []
    stop = threading.Event()
    try:
        with serve(create_app(trained.settings(), database_url=trained.url)) as base:
            with httpx.Client(base_url=base) as http:
                wait_for_version(http, bearer(trained, "viewer"), trained.version)

            def hammer(k: int) -> None:
                with httpx.Client(base_url=base, timeout=30) as http:
                    while not stop.is_set():
                        r = http.post(
                            "/rank",
                            json={"user_id": user, "item_ids": items},
                            headers=bearer(trained, "viewer"),
                        )
                        if r.status_code != 200:
                            failures.append(r.text)
                        else:
                            seen[k].append(r.json()["model"]["version"])

            threads = [threading.Thread(target=hammer, args=(k,)) for k in range(4)]
            for t in threads:
                t.start()
            wait_until(lambda: all(seen) or failures, what="every client to be served v1")
            with httpx.Client(base_url=base) as http:
                resp = http.put(
                    "/models/ranker/champion",
                    json={"version": v2, "reason": "swap test"},
                    headers=bearer(trained, "admin"),
                )
                assert resp.status_code == 200, resp.text
                wait_for_version(http, bearer(trained, "viewer"), v2)
            wait_until(
                lambda: all(v2 in versions for versions in seen) or failures,
                what="every client to be served the new champion",
            )
            stop.set()
            for t in threads:
                t.join()
    finally:
        stop.set()
        set_champion(trained, trained.version)
    assert not failures
    for versions in seen:
        assert versions[0] == trained.version and versions[-1] == v2
        first_new = versions.index(v2)
        assert set(versions[first_new:]) == {v2}  # never back to the old model once swapped


def test_an_artifact_that_does_not_match_its_sha256_is_refused_and_the_old_model_keeps_serving(
    trained: Trained,
) -> None:
    v3, path = register_copy(trained, "tampered")
    path.write_bytes(path.read_bytes() + b"tampered")
    try:
        with serving_client(trained) as client:
            headers = bearer(trained, "viewer")
            set_champion(trained, v3)
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                status = client.get("/rank/status", headers=headers).json()
                if status["champion_version"] == v3 and status["last_error"]:
                    break
                time.sleep(0.05)
            assert status["served_version"] == trained.version
            assert "sha256" in status["last_error"]
            assert (
                rank(client, trained, user_id="u", item_ids=["a", "b"]).json()["model"]["version"]
                == trained.version
            )
    finally:
        set_champion(trained, trained.version)
    with trained.engine.connect() as conn:
        refused = conn.execute(
            text(
                "SELECT payload FROM audit_events "
                "WHERE action = 'model.load_refused' AND object_id = :o"
            ),
            {"o": f"ranker:{v3}"},
        ).all()
    assert refused and "sha256" in refused[0][0]["after"]["error"]


def test_buffered_predictions_are_written_when_the_app_shuts_down(trained: Trained) -> None:
    user, items = known_ids(trained, 10)
    requests: list[str] = []
    with serving_client(trained, predlog_flush_seconds=3600, predlog_flush_rows=10**9) as client:
        for _ in range(25):
            requests.append(
                rank(client, trained, user_id=user, item_ids=items).json()["request_id"]
            )
        with trained.engine.connect() as conn:
            count = conn.execute(
                text("SELECT count(*) FROM predictions WHERE request_id = ANY(CAST(:r AS uuid[]))"),
                {"r": requests},
            ).scalar_one()
        assert count == 0  # still buffered, off the request path
    with trained.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT position, score, features, model_version FROM predictions "
                "WHERE request_id = ANY(CAST(:r AS uuid[])) ORDER BY request_id, position"
            ),
            {"r": requests},
        ).all()
        audit_rows = conn.execute(
            text(
                "SELECT payload FROM audit_events WHERE action = 'predictions.log' "
                "ORDER BY seq DESC LIMIT 1"
            )
        ).scalar_one()
    assert len(rows) == 25 * 10
    assert all(len(unpack(r.features)) == 18 and r.model_version == trained.version for r in rows)
    assert np.isfinite(np.stack([unpack(r.features) for r in rows])).all()
    assert [r.position for r in rows[:10]] == list(range(10))
    assert audit_rows["after"]["rows"] >= 250


def test_predictions_are_spilled_when_the_database_is_gone_and_written_later(
    trained: Trained, tmp_path: Path
) -> None:
    dead = create_engine(
        "postgresql+psycopg://postgres@127.0.0.1:1/nowhere", connect_args={"connect_timeout": 1}
    )
    logger = PredictionLogger(dead, spill_dir=tmp_path, flush_seconds=3600)
    rid = new_request_id()
    logger.log(
        ServedRequest(
            rid,
            datetime.now(UTC),
            "ranker",
            trained.version,
            "u",
            ["a", "b", "c"],
            np.array([0.3, 0.2, 0.1]),
            np.zeros((3, 18), dtype=np.float32),
            "feed",
            None,
            None,
            3,
        )
    )
    logger.close()
    assert logger.spilled_rows == 3 and len(list(tmp_path.glob("*.parquet"))) == 1
    assert PredictionLogger(trained.engine, spill_dir=tmp_path).recover_spills() == 3
    assert not list(tmp_path.glob("*.parquet"))
    with trained.engine.connect() as conn:
        assert (
            conn.execute(
                text("SELECT count(*) FROM predictions WHERE request_id = :r"), {"r": rid}
            ).scalar_one()
            == 3
        )


def test_rank_remembers_a_token_only_briefly_so_revocation_takes_effect(trained: Trained) -> None:
    from core.auth import Role, create_token, revoke_token

    name = f"short-lived-{uuid.uuid4().hex[:6]}"
    with trained.sessions.begin() as s:
        token = create_token(s, CLI_OPERATOR, name=name, role=Role.viewer, prefix="dg_")
    headers = {"Authorization": f"Bearer {token}"}
    body = {"user_id": "u", "item_ids": ["a"]}
    with serving_client(trained, ranker_auth_cache_seconds=0.3) as client:
        assert client.post("/rank", json=body, headers=headers).status_code == 200
        with trained.sessions.begin() as s:
            revoke_token(s, CLI_OPERATOR, name=name)
        refused = wait_until(
            lambda: (
                (r := client.post("/rank", json=body, headers=headers)).status_code == 401 and r
            ),
            timeout=10,
            what="the revoked token to be refused once the 0.3 s cache entry expires",
        )
        assert "revoked" in refused.json()["detail"]
        bogus = client.post("/rank", json=body, headers={"Authorization": "Bearer dg_nope"})
        assert bogus.status_code == 401
