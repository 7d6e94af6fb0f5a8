"""The model registry: verified, immutable versions and an admin-only, audited champion alias."""

from __future__ import annotations

import copy
import hashlib
import io
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from core.auth import CLI_OPERATOR
from core.settings import Settings
from ranker.feed import deliver
from ranker.ingest import ensure_contracts
from tests.support.trained import ORIGIN, small_config

SIGNATURE = {
    "inputs": [
        {"name": "user_ctr", "kind": "numeric", "dtype": "float32", "transform": "log"},
        {"name": "country", "kind": "categorical", "dtype": "int64", "vocabulary_size": 8},
    ],
    "output": {"name": "click_probability", "dtype": "float32"},
}


@pytest.fixture
def batch(client, db: Session, auth) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """One accepted impressions batch posted through the API."""
    ensure_contracts(db, CLI_OPERATOR)
    db.commit()
    frame = next(
        b.frame for b in deliver(small_config(), ORIGIN, 0, 1) if b.contract_id == "impressions"
    )
    buf = io.BytesIO()
    frame.write_parquet(buf)
    resp = client.post(
        "/batches?contract=impressions",
        content=buf.getvalue(),
        headers={**auth("producer"), "Content-Type": "application/vnd.apache.parquet"},
    )
    assert resp.status_code == 201, resp.text
    return resp.json()  # type: ignore[no-any-return]


def write_artifact(settings: Settings, content: bytes, name: str = "ranker") -> tuple[str, str]:
    sha = hashlib.sha256(content).hexdigest()
    path = (settings.data_dir / "models" / name / f"{sha}.pt").resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path.as_uri(), sha


def version_body(
    settings: Settings, batch: dict[str, Any], content: bytes = b"weights v1"
) -> dict[str, Any]:
    uri, sha = write_artifact(settings, content)
    return {
        "artifact_uri": uri,
        "artifact_sha256": sha,
        "signature": SIGNATURE,
        "metrics": {"model": {"auc": 0.77}, "popularity": {"auc": 0.66}},
        "training_data": [
            {
                "batch_id": batch["id"],
                "contract_id": "impressions",
                "contract_version": batch["contract_version"],
                "accepted_sha256": batch["accepted_sha256"],
                "rows_used": batch["rows_accepted"],
            }
        ],
        "params": {"seed": 7},
        "description": "test",
    }


def test_versions_are_numbered_listed_and_shown_with_their_lineage(
    client, auth, settings, batch
) -> None:  # type: ignore[no-untyped-def]
    first = client.post(
        "/models/ranker/versions", json=version_body(settings, batch), headers=auth("producer")
    )
    assert first.status_code == 201, first.text
    assert first.headers["Location"] == "/models/ranker/versions/1"
    doc = first.json()
    assert doc["version"] == 1 and doc["created_by"] == "test-producer"
    assert doc["contract_versions"] == {"impressions": ["1.2.0"]}
    assert doc["artifact_bytes"] == len(b"weights v1")
    second = client.post(
        "/models/ranker/versions",
        json=version_body(settings, batch, b"weights v2"),
        headers=auth("admin"),
    )
    assert second.json()["version"] == 2
    models = client.get("/models", headers=auth("viewer")).json()
    assert [(m["name"], m["latest_version"], m["champion_version"]) for m in models] == [
        ("ranker", 2, None)
    ]
    assert [
        v["version"] for v in client.get("/models/ranker/versions", headers=auth("viewer")).json()
    ] == [1, 2]
    shown = client.get("/models/ranker/versions/1", headers=auth("viewer")).json()
    assert (
        shown["training_data"][0]["batch_id"] == batch["id"]
        and shown["metrics"]["model"]["auc"] == 0.77
    )
    events = client.get("/audit?action=model.version.register", headers=auth("viewer")).json()
    assert [e["object_id"] for e in events] == ["ranker:1", "ranker:2"]


def test_versions_are_immutable(client, auth, settings, batch, db: Session) -> None:  # type: ignore[no-untyped-def]
    body = version_body(settings, batch)
    assert (
        client.post("/models/ranker/versions", json=body, headers=auth("producer")).status_code
        == 201
    )
    for method in ("put", "patch", "delete"):
        resp = getattr(client, method)("/models/ranker/versions/1", headers=auth("admin"))
        assert resp.status_code == 405
    again = client.post("/models/ranker/versions", json=body, headers=auth("producer"))
    assert again.status_code == 409 and again.json()["rule"] == "unique_per_model"
    assert again.json()["version"] == 1
    for statement in (
        "UPDATE model_versions SET metrics = '{}'::jsonb",
        "DELETE FROM model_versions",
    ):
        with pytest.raises(DBAPIError, match="immutable"), db.begin_nested():
            db.execute(text(statement))


def _mutations(
    settings: Settings, batch: dict[str, Any], tmp: Path
) -> list[tuple[str, Any, str, str]]:
    outside = tmp / "elsewhere.pt"
    outside.write_bytes(b"x")
    return [
        ("artifact_uri", "https://example.com/model.pt", "artifact_uri", "file_uri"),
        ("artifact_uri", outside.resolve().as_uri(), "artifact_uri", "inside_models_dir"),
        (
            "artifact_uri",
            (settings.data_dir / "models" / "ranker" / "missing.pt").resolve().as_uri(),
            "artifact_uri",
            "exists",
        ),
        ("artifact_sha256", "0" * 64, "artifact_sha256", "sha256_matches"),
        ("artifact_sha256", "XYZ", "artifact_sha256", "string_pattern_mismatch"),
        ("training_data.0.batch_id", str(uuid.uuid4()), "training_data[0].batch_id", "exists"),
        (
            "training_data.0.accepted_sha256",
            "1" * 64,
            "training_data[0].accepted_sha256",
            "matches_batch",
        ),
        (
            "training_data.0.contract_version",
            "9.9.9",
            "training_data[0].contract_version",
            "matches_batch",
        ),
        (
            "contract_versions",
            {"impressions": ["2.0.0"]},
            "contract_versions",
            "matches_training_data",
        ),
        ("training_data", [], "training_data", "too_short"),
        ("metrics", {}, "metrics", "too_short"),
        ("signature.inputs", [], "signature.inputs", "too_short"),
        ("signature.inputs.0.kind", "vector", "signature.inputs.0.kind", "literal_error"),
        ("creator", "mallory", "creator", "extra_forbidden"),
    ]


def _set(doc: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    *parents, last = path.split(".")
    node: Any = doc
    for p in parents:
        node = node[int(p)] if p.isdigit() else node[p]
    node[int(last) if last.isdigit() else last] = value
    return doc


def test_registrations_that_do_not_check_out_are_refused_with_field_and_rule(  # type: ignore[no-untyped-def]
    client, auth, settings, batch, tmp_path
) -> None:
    good = version_body(settings, batch)
    for path, value, field, rule in _mutations(settings, batch, tmp_path):
        resp = client.post(
            "/models/ranker/versions", json=_set(good, path, value), headers=auth("producer")
        )
        assert resp.status_code == 422, (path, resp.text)
        assert (resp.json()["field"], resp.json()["rule"]) == (field, rule), path
    bad_name = client.post("/models/Bad%20Name/versions", json=good, headers=auth("producer"))
    assert bad_name.status_code == 422 and bad_name.json()["field"] == "path.name"
    assert client.get("/models", headers=auth("viewer")).json() == []  # nothing half-written


def test_a_rejected_batch_cannot_be_training_data(client, auth, settings, batch, db) -> None:  # type: ignore[no-untyped-def]
    frame = next(
        b.frame for b in deliver(small_config(), ORIGIN, 0, 1) if b.contract_id == "impressions"
    )
    buf = io.BytesIO()
    frame.drop("event_time").write_parquet(buf)
    rejected = client.post(
        "/batches?contract=impressions",
        content=buf.getvalue(),
        headers={**auth("producer"), "Content-Type": "application/vnd.apache.parquet"},
    ).json()
    assert rejected["status"] == "rejected"
    body = version_body(settings, rejected)
    resp = client.post("/models/ranker/versions", json=body, headers=auth("producer"))
    assert resp.status_code == 422 and resp.json()["rule"] == "accepted"


def test_only_an_admin_sets_the_champion_and_every_move_is_audited(
    client, auth, settings, batch
) -> None:  # type: ignore[no-untyped-def]
    client.post(
        "/models/ranker/versions", json=version_body(settings, batch), headers=auth("producer")
    )
    client.post(
        "/models/ranker/versions",
        json=version_body(settings, batch, b"v2"),
        headers=auth("producer"),
    )
    assert client.get("/models/ranker/champion", headers=auth("viewer")).status_code == 404
    assert (
        client.post(
            "/models/ranker/versions",
            json=version_body(settings, batch, b"v3"),
            headers=auth("viewer"),
        ).status_code
        == 403
    )
    for role in ("viewer", "producer", "reviewer"):
        resp = client.put("/models/ranker/champion", json={"version": 1}, headers=auth(role))
        assert resp.status_code == 403 and resp.json()["rule"] == "role"
    ok = client.put(
        "/models/ranker/champion", json={"version": 1, "reason": "first"}, headers=auth("admin")
    )
    assert ok.status_code == 200 and ok.json()["set_by"] == "test-admin"
    client.put(
        "/models/ranker/champion", json={"version": 2, "reason": "better"}, headers=auth("admin")
    )
    client.put("/models/ranker/champion", json={"version": 2}, headers=auth("admin"))  # no-op
    assert client.get("/models/ranker", headers=auth("viewer")).json()["champion_version"] == 2
    events = client.get("/audit?action=model.champion.set", headers=auth("viewer")).json()
    assert [
        (e["payload"]["before"], e["payload"]["after"]["version"], e["payload"]["reason"])
        for e in events
    ] == [
        (None, 1, "first"),
        ({"version": 1}, 2, "better"),
    ]
    missing = client.put(
        "/models/ranker/champion", json={"version": 9, "reason": "x"}, headers=auth("admin")
    )
    assert missing.status_code == 404 and missing.json()["field"] == "version"
    assert (
        client.put(
            "/models/nope/champion", json={"version": 1, "reason": "x"}, headers=auth("admin")
        ).status_code
        == 404
    )
    zero = client.put(
        "/models/ranker/champion", json={"version": 0, "reason": "x"}, headers=auth("admin")
    )
    assert zero.status_code == 422 and zero.json()["field"] == "version"
    assert client.get("/models/ranker/versions/7", headers=auth("viewer")).status_code == 404
    assert client.get("/models/ghost/versions", headers=auth("viewer")).status_code == 404
    assert client.get("/audit/verify", headers=auth("viewer")).json()["intact"] is True
