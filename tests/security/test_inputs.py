"""Hostile inputs get a 4xx problem naming the field and the rule: never a 500, never a stall.

Integers past the database's column ranges, JSON and YAML nested 1,000 deep, YAML alias bombs,
and bodies over their route's limit, on every route family that takes them.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import yaml
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from api.limits import BodyLimits
from api.middleware import RequestGuard
from core.safe_parse import MAX_DEPTH, json_depth, load_yaml
from core.settings import Settings
from lineage.routes import PRODUCER_ROLES, authorize_producer, lineage_writer
from lineage.writer import GroupCommitWriter
from tests.builders import contract

Auth = Callable[[str], dict[str, str]]
INT64_PAST = 2**63  # 9223372036854775808
INT32_PAST = 30473018932


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Small limits, so the tests stream past them quickly; the rules are the same."""
    return settings.model_copy(
        update={
            "max_json_body_bytes": 256 * 1024,
            "max_labels_body_bytes": 512 * 1024,
            "lineage_max_event_bytes": 1024 * 1024,
        }
    )


@pytest.fixture
def app(app: FastAPI, db: Session) -> Iterator[FastAPI]:
    """Lineage ingest authorizes through a writer that sees the test's transaction."""
    writer = GroupCommitWriter(lambda: db, authorize_producer, roles=PRODUCER_ROLES)
    writer.start()
    app.dependency_overrides[lineage_writer] = lambda: writer
    yield app
    writer.stop()


def _problem(resp: Any, status: int) -> dict[str, Any]:
    assert resp.status_code == status, resp.text[:500]
    assert resp.headers["content-type"].startswith("application/problem+json"), resp.text[:200]
    body: dict[str, Any] = resp.json()
    assert body["status"] == status and body.get("field") and body.get("rule"), body
    return body


# --- integers outside the database's ranges ----------------------------------------------

OFFSET_ROUTES = [
    "/contracts",
    "/batches",
    "/alerts",
    "/monitors/notifications",
    "/models",
    "/promotion-requests",
]


@pytest.mark.parametrize("path", OFFSET_ROUTES)
def test_an_offset_past_int64_is_a_422_naming_offset(client: TestClient, auth: Auth, path: str):
    resp = client.get(path, params={"offset": str(INT64_PAST)}, headers=auth("admin"))
    assert _problem(resp, 422)["field"] == "query.offset"


def test_after_seq_past_int64_is_a_422(client: TestClient, auth: Auth) -> None:
    resp = client.get("/audit", params={"after_seq": str(INT64_PAST)}, headers=auth("admin"))
    assert _problem(resp, 422)["field"] == "query.after_seq"


@pytest.mark.parametrize(
    ("method", "path", "field"),
    [
        ("GET", f"/models/ranker/versions/{INT32_PAST}", "path.version"),
        ("GET", f"/models/ranker/versions/{INT32_PAST}/card", "path.version"),
        ("POST", f"/models/ranker/versions/{INT32_PAST}/promotion-requests", "path.version"),
        ("GET", f"/promotion-policy/versions/{INT32_PAST}", "path.version"),
        ("POST", f"/monitors/notifications/{INT64_PAST}/retry", "path.notification_id"),
    ],
)
def test_ids_past_their_column_range_are_a_422_naming_the_field(
    client: TestClient, auth: Auth, method: str, path: str, field: str
) -> None:
    resp = client.request(method, path, json={}, headers=auth("admin"))
    assert _problem(resp, 422)["field"] == field


def test_a_champion_version_past_int32_in_a_body_is_a_422(client: TestClient, auth: Auth) -> None:
    resp = client.put(
        "/models/ranker/champion",
        json={"version": INT32_PAST, "reason": "fuzz"},
        headers=auth("admin"),
    )
    assert _problem(resp, 422)["field"] == "version"


# --- nesting 1,000 deep -------------------------------------------------------------------

DEEP_JSON = b'{"a":' * 1000 + b"1" + b"}" * 1000
DEEP_LIST = b"[" * 1000 + b"]" * 1000
DEEP_YAML = "a: " + "[" * 1000 + "]" * 1000 + "\n"  # flow style: 1,000 deep in 2 kB
DEEP_BLOCK_YAML = "a:\n" + "".join("  " * i + "-\n" for i in range(1, 100))  # 99 deep


def _deep_contract_json() -> bytes:
    doc = contract()
    doc["description"] = "x"
    text = json.dumps(doc)
    return text[:-1].encode() + b', "extra": ' + DEEP_LIST + b"}"


@pytest.mark.parametrize(
    ("method", "path", "role", "content_type", "body"),
    [
        ("POST", "/contracts", "admin", "application/json", _deep_contract_json()),
        ("POST", "/contracts", "admin", "application/yaml", DEEP_YAML.encode()),
        ("POST", "/contracts/orders/versions", "admin", "application/json", DEEP_JSON),
        ("POST", "/contracts/orders/impact", "viewer", "application/json", DEEP_JSON),
        ("POST", "/contracts/orders/impact", "viewer", "application/yaml", DEEP_YAML.encode()),
        ("PUT", "/promotion-policy", "admin", "application/yaml", DEEP_YAML.encode()),
        ("PUT", "/promotion-policy", "admin", "application/yaml", DEEP_LIST),
        ("PUT", "/promotion-policy", "admin", "application/yaml", DEEP_BLOCK_YAML.encode()),
        ("POST", "/contracts", "admin", "application/yaml", DEEP_BLOCK_YAML.encode()),
        ("POST", "/api/v1/lineage", "producer", "application/json", DEEP_JSON),
        ("POST", "/tokens", "admin", "application/json", DEEP_JSON),
        ("POST", "/labels", "producer", "application/json", DEEP_LIST),
        ("POST", "/rank", "viewer", "application/json", DEEP_JSON),
        ("POST", "/models/ranker/versions", "admin", "application/json", DEEP_JSON),
        ("POST", "/slos", "admin", "application/json", DEEP_LIST),
    ],
)
def test_a_document_nested_1000_deep_is_a_422_naming_the_depth_rule(
    client: TestClient,
    auth: Auth,
    method: str,
    path: str,
    role: str,
    content_type: str,
    body: bytes,
) -> None:
    resp = client.request(
        method, path, content=body, headers={**auth(role), "Content-Type": content_type}
    )
    assert _problem(resp, 422)["rule"] == "max_depth"


def test_a_gzipped_lineage_event_nested_1000_deep_is_a_422(client: TestClient, auth: Auth):
    resp = client.post(
        "/api/v1/lineage",
        content=gzip.compress(DEEP_JSON),
        headers={
            **auth("producer"),
            "Content-Type": "application/json",
            "Content-Encoding": "gzip",
        },
    )
    assert _problem(resp, 422)["rule"] == "max_depth"


def test_a_json_body_without_content_type_is_scanned_too(client: TestClient, auth: Auth):
    resp = client.post("/tokens", content=DEEP_JSON, headers=auth("admin"))
    assert _problem(resp, 422)["rule"] == "max_depth"


def test_nesting_at_the_limit_still_parses(client: TestClient, auth: Auth) -> None:
    body = b"[" * MAX_DEPTH + b"]" * MAX_DEPTH
    resp = client.post(
        "/tokens", content=body, headers={**auth("admin"), "Content-Type": "application/json"}
    )
    assert _problem(resp, 422)["rule"] != "max_depth"  # the shape is wrong, the depth is fine


# --- YAML alias expansion ("billion laughs") ----------------------------------------------

LAUGHS = "a: &a [lol,lol,lol,lol,lol,lol,lol,lol,lol]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{','.join([f'*{chr(97 + i)}'] * 9)}]\n" for i in range(8)
)


@pytest.mark.parametrize(
    ("method", "path", "role"),
    [
        ("POST", "/contracts/orders/impact", "viewer"),
        ("POST", "/contracts", "admin"),
        ("PUT", "/promotion-policy", "admin"),
    ],
)
def test_a_yaml_alias_bomb_is_refused_fast(
    client: TestClient, auth: Auth, method: str, path: str, role: str
) -> None:
    assert len(LAUGHS) < 500
    started = time.process_time()
    resp = client.request(
        method, path, content=LAUGHS, headers={**auth(role), "Content-Type": "application/yaml"}
    )
    assert _problem(resp, 422)["rule"] == "max_yaml_nodes"
    assert time.process_time() - started < 1.0


def test_a_few_plain_yaml_anchors_still_load() -> None:
    doc = load_yaml("base: &b {type: string}\nother: *b\nthird: *b\n")
    assert doc == {
        "base": {"type": "string"},
        "other": {"type": "string"},
        "third": {"type": "string"},
    }


# --- per-route body limits ----------------------------------------------------------------


def _chunks(total: int, size: int = 1 << 16) -> Iterator[bytes]:
    yield b'{"user_id": "u", "item_ids": ["'
    sent = 0
    while sent < total:
        yield b"a" * size
        sent += size
    yield b'"]}'


@pytest.mark.parametrize(
    ("path", "role"),
    [("/rank", "viewer"), ("/labels", "producer"), ("/contracts", "admin"), ("/tokens", "admin")],
)
def test_a_json_route_refuses_a_body_over_its_limit_declared_or_streamed(
    client: TestClient, auth: Auth, settings, path: str, role: str
) -> None:
    limit = BodyLimits.from_settings(settings).for_request("POST", path).limit
    defaults = BodyLimits.from_settings(Settings())
    assert defaults.for_request("POST", path).limit * 8 <= defaults.upload_bytes
    declared = client.post(
        path,
        content=b"{}",
        headers={
            **auth(role),
            "Content-Type": "application/json",
            "Content-Length": str(limit + 1),
        },
    )
    assert _problem(declared, 413)["field"] == "body"
    streamed = client.post(
        path, content=_chunks(limit + 1), headers={**auth(role), "Content-Type": "application/json"}
    )
    assert _problem(streamed, 413)["limit"] == limit


def test_batch_upload_keeps_the_large_limit(client: TestClient, auth: Auth, settings) -> None:
    limits = BodyLimits.from_settings(settings)
    assert limits.for_request("POST", "/batches").limit == settings.max_body_bytes
    client.post("/contracts", json=contract(), headers=auth("admin"))
    rows = b"order_id,amount,quantity,status,placed_at\n" + b"".join(
        f"o{i},10.0,1,new,2026-12-07T10:00:00Z\n".encode() for i in range(60_000)
    )
    assert limits.json_bytes < len(rows) < settings.max_body_bytes
    resp = client.post(
        "/batches?contract=orders",
        content=rows,
        headers={**auth("producer"), "Content-Type": "text/csv"},
    )
    assert resp.status_code == 201, resp.text[:300]


def test_lineage_ingest_ahead_of_the_router_keeps_its_limit(
    client: TestClient, auth: Auth, settings
):
    limit = settings.lineage_max_event_bytes
    resp = client.post(
        "/api/v1/lineage",
        content=_chunks(limit + 1),
        headers={**auth("producer"), "Content-Type": "application/json"},
    )
    assert _problem(resp, 413)["field"] == "body"


def test_the_guard_stops_reading_a_json_body_once_it_crosses_the_limit() -> None:
    """Pure ASGI: the guard pulls at most limit + one chunk, then answers 413 itself."""
    limits = BodyLimits(
        json_bytes=1 << 20, labels_bytes=1 << 20, lineage_bytes=1 << 20, upload_bytes=1 << 30
    )
    pulled = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal pulled
        pulled += 1
        return {"type": "http.request", "body": b"a" * (1 << 16), "more_body": True}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("the app must not be called")

    scope = {"type": "http", "method": "POST", "path": "/rank", "headers": [], "query_string": b""}
    asyncio.run(RequestGuard(app, limits=limits)(scope, receive, send))
    assert sent[0]["status"] == 413
    assert pulled == (1 << 20) // (1 << 16) + 1  # 88 MB from a viewer is never read whole


# --- the depth scan agrees with a parser ----------------------------------------------------

_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet='[]{}"\\ab\n\u00e9'),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(alphabet='[]{}"\\ab', max_size=4), children, max_size=4)
    ),
    max_leaves=40,
)


def _reference_depth(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max((_reference_depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((_reference_depth(v) for v in value.values()), default=0)
    return 0


@pytest.mark.slow
@hypothesis_settings(max_examples=300, deadline=None)
@given(_json_values, st.booleans())
def test_json_depth_equals_the_parsed_documents_depth(value: Any, ascii_only: bool) -> None:
    text = json.dumps(value, ensure_ascii=ascii_only)
    assert json_depth(text.encode()) == _reference_depth(value)


@pytest.mark.slow
@hypothesis_settings(max_examples=200, deadline=None)
@given(_json_values)
def test_load_yaml_agrees_with_safe_load_on_ordinary_documents(value: Any) -> None:
    text = yaml.safe_dump(value)
    assert load_yaml(text) == yaml.safe_load(text)


# --- what the OpenAPI document promises -----------------------------------------------------


@pytest.mark.parametrize(
    ("path", "param"),
    [("/batches", "until"), ("/monitors/quality", "end"), ("/monitors/drift", "start")],
)
def test_a_number_where_a_date_time_is_documented_is_a_422(
    client: TestClient, auth: Auth, path: str, param: str
) -> None:
    resp = client.get(path, params={param: "0.5"}, headers=auth("admin"))
    assert f"query.{param}" in {e["field"] for e in _problem(resp, 422)["errors"]}


def test_a_405_lists_every_method_served_at_the_path(client: TestClient, auth: Auth) -> None:
    resp = client.request("PATCH", "/tokens", headers=auth("admin"))
    assert resp.status_code == 405
    assert set(resp.headers["allow"].replace(" ", "").split(",")) >= {"GET", "POST"}


def test_every_error_status_is_documented_as_problem_json(app: FastAPI) -> None:
    for path, operations in app.openapi()["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if int(status) >= 400:
                    assert list(response["content"]) == ["application/problem+json"], (
                        method,
                        path,
                        status,
                    )
            assert "500" in operation["responses"], (method, path)


def test_a_scalar_query_parameter_given_twice_is_a_422(client: TestClient, auth: Auth) -> None:
    resp = client.get("/audit?actor=alice&actor=bob", headers=auth("admin"))
    body = _problem(resp, 422)
    assert body["field"] == "query.actor" and body["rule"] == "single_value"
    assert client.get("/audit?actor=alice", headers=auth("admin")).status_code == 200
