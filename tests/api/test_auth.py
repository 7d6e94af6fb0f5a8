"""Every route but /health and /ready needs a token; roles decide what it may do."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from tests.builders import contract

PROTECTED = [
    ("GET", "/contracts"),
    ("GET", "/contracts/orders"),
    ("GET", "/batches"),
    ("GET", "/audit"),
    ("GET", "/audit/verify"),
    ("GET", "/tokens"),
    ("POST", "/contracts"),
    ("POST", "/batches?contract=orders"),
]


def test_health_and_ready_need_no_token(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    assert client.get("/ready").status_code == 200


@pytest.mark.parametrize(("method", "path"), PROTECTED)
def test_requests_without_a_token_get_401_problem(
    client: TestClient, method: str, path: str
) -> None:
    resp = client.request(method, path)
    assert resp.status_code == 401
    assert resp.headers["content-type"].startswith("application/problem+json")
    assert resp.headers["www-authenticate"] == "Bearer"
    assert resp.json()["field"] == "Authorization"


def test_unknown_token_gets_401(client: TestClient) -> None:
    resp = client.get("/contracts", headers={"Authorization": "Bearer dg_not-a-real-token"})
    assert resp.status_code == 401


@pytest.mark.parametrize(
    ("role", "method", "path", "expected"),
    [
        ("viewer", "POST", "/contracts", 403),
        ("producer", "POST", "/contracts", 403),
        ("reviewer", "POST", "/contracts", 403),
        ("viewer", "POST", "/batches?contract=orders", 403),
        ("reviewer", "POST", "/batches?contract=orders", 403),
        ("producer", "GET", "/tokens", 403),
        ("viewer", "GET", "/contracts", 200),
        ("admin", "GET", "/tokens", 200),
    ],
)
def test_roles_are_enforced(
    client: TestClient,
    auth: Callable[[str], dict[str, str]],
    role: str,
    method: str,
    path: str,
    expected: int,
) -> None:
    resp = client.request(
        method, path, headers=auth(role), json=contract() if method == "POST" else None
    )
    assert resp.status_code == expected
    if expected == 403:
        assert resp.json()["rule"] == "role"


def test_tokens_are_stored_hashed_and_shown_once(
    client: TestClient, auth: Callable[[str], dict[str, str]], db: Session
) -> None:
    resp = client.post(
        "/tokens", json={"name": "etl-bot", "role": "producer"}, headers=auth("admin")
    )
    assert resp.status_code == 201
    raw = resp.json()["token"]
    stored = db.execute(
        text("SELECT token_hash FROM api_tokens WHERE name = 'etl-bot'")
    ).scalar_one()
    assert raw not in stored and len(stored) == 64
    listed = client.get("/tokens", headers=auth("admin")).json()
    assert all("token" not in t for t in listed)
    assert client.get("/batches", headers={"Authorization": f"Bearer {raw}"}).status_code == 200


def test_revoked_token_stops_working_and_revocation_is_audited(
    client: TestClient, auth: Callable[[str], dict[str, str]]
) -> None:
    raw = client.post(
        "/tokens", json={"name": "temp", "role": "viewer"}, headers=auth("admin")
    ).json()["token"]
    assert client.delete("/tokens/temp", headers=auth("admin")).status_code == 200
    assert client.get("/contracts", headers={"Authorization": f"Bearer {raw}"}).status_code == 401
    events = client.get("/audit?object=token:temp", headers=auth("viewer")).json()
    assert [e["action"] for e in events] == ["token.create", "token.revoke"]


def test_duplicate_token_name_is_409_and_bad_role_is_422(
    client: TestClient, auth: Callable[[str], dict[str, str]]
) -> None:
    assert (
        client.post(
            "/tokens", json={"name": "x1", "role": "viewer"}, headers=auth("admin")
        ).status_code
        == 201
    )
    dup = client.post("/tokens", json={"name": "x1", "role": "viewer"}, headers=auth("admin"))
    assert dup.status_code == 409 and dup.json()["field"] == "name"
    bad = client.post("/tokens", json={"name": "x2", "role": "root"}, headers=auth("admin"))
    assert bad.status_code == 422 and bad.json()["field"] == "role"
    extra = client.post(
        "/tokens", json={"name": "x3", "role": "viewer", "admin": True}, headers=auth("admin")
    )
    assert extra.status_code == 422 and extra.json()["rule"] == "extra_forbidden"
