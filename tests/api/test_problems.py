"""Bad input gets a 4xx problem document naming the field and rule, never a 500."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from tests.builders import contract, orders, parquet_bytes

Auth = Callable[[str], dict[str, str]]


def _is_problem(resp) -> dict:  # type: ignore[no-untyped-def,type-arg]
    assert resp.headers["content-type"].startswith("application/problem+json"), resp.text
    body = resp.json()
    assert {"type", "title", "status", "detail"} <= set(body)
    assert body["status"] == resp.status_code
    return body


def test_unknown_route_is_a_404_problem(client: TestClient) -> None:
    assert _is_problem(client.get("/nope"))["status"] == 404


def test_declared_oversized_body_is_413_before_reading(client: TestClient, auth: Auth) -> None:
    resp = client.post(
        "/batches?contract=orders",
        content=b"x" * 16,
        headers={**auth("producer"), "Content-Type": "text/csv", "Content-Length": str(10**10)},
    )
    assert resp.status_code == 413 and _is_problem(resp)["rule"] == "max_body_bytes"


def test_streamed_body_over_the_limit_is_413(client: TestClient, auth: Auth) -> None:
    def chunks():  # type: ignore[no-untyped-def]
        for _ in range(20):
            yield b"a" * (1 << 20)  # 20 MiB against an 8 MiB limit, no Content-Length

    client.post("/contracts", json=contract(), headers=auth("admin"))
    resp = client.post(
        "/batches?contract=orders",
        content=chunks(),
        headers={**auth("producer"), "Content-Type": "text/csv"},
    )
    assert resp.status_code == 413 and _is_problem(resp)["field"] == "body"


def test_oversized_json_body_is_413_too(client: TestClient, auth: Auth) -> None:
    def chunks():  # type: ignore[no-untyped-def]
        yield b'{"name": "'
        for _ in range(10):
            yield b"a" * (1 << 20)
        yield b'", "role": "viewer"}'

    resp = client.post(
        "/tokens", content=chunks(), headers={**auth("admin"), "Content-Type": "application/json"}
    )
    assert resp.status_code == 413


@pytest.mark.parametrize("url", ["/contracts/a%00b", "/contracts?limit=1%00", "/contracts/%ff%fe"])
def test_nul_bytes_and_invalid_utf8_in_urls_are_400(
    client: TestClient, auth: Auth, url: str
) -> None:
    resp = client.get(url, headers=auth("viewer"))
    assert resp.status_code == 400 and _is_problem(resp)["rule"] in ("no_nul_bytes", "utf8")


def test_nul_escape_in_a_json_body_is_422_not_500(client: TestClient, auth: Auth) -> None:
    resp = client.post(
        "/tokens",
        content=b'{"name": "a\\u0000b", "role": "viewer"}',
        headers={**auth("admin"), "Content-Type": "application/json"},
    )
    assert resp.status_code == 422 and _is_problem(resp)


def test_malformed_json_is_400_and_invalid_utf8_json_is_4xx(client: TestClient, auth: Auth) -> None:
    resp = client.post(
        "/tokens",
        content=b'{"name": ',
        headers={**auth("admin"), "Content-Type": "application/json"},
    )
    assert resp.status_code == 400 and _is_problem(resp)["rule"] == "json_invalid"
    resp = client.post(
        "/tokens",
        content=b'{"name": "\xff\xfe", "role": "viewer"}',
        headers={**auth("admin"), "Content-Type": "application/json"},
    )
    assert 400 <= resp.status_code < 500 and _is_problem(resp)


def test_query_validation_names_the_parameter(client: TestClient, auth: Auth) -> None:
    resp = client.get("/batches?limit=0", headers=auth("viewer"))
    body = _is_problem(resp)
    assert (
        resp.status_code == 422
        and body["field"] == "query.limit"
        and body["rule"] == "greater_than_equal"
    )


def test_concurrent_retry_with_the_same_idempotency_key_is_409(
    client: TestClient, auth: Auth, engine: Engine
) -> None:
    client.post("/contracts", json=contract(), headers=auth("admin"))
    # Another request holding the key's lock (still processing) is simulated on its own connection.
    with engine.connect() as other, other.begin():
        other.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 7))"),
            {"k": "test-producer\x1fretry-1"},
        )
        resp = client.post(
            "/batches?contract=orders",
            content=parquet_bytes(orders(2)),
            headers={
                **auth("producer"),
                "Content-Type": "application/vnd.apache.parquet",
                "Idempotency-Key": "retry-1",
            },
        )
    assert resp.status_code == 409 and _is_problem(resp)["field"] == "Idempotency-Key"
