"""Counting batches by status without reading them: the dashboard's "last 24 h" tiles."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from core.clock import SimulatedClock, get_clock, set_clock
from tests.builders import contract, orders, parquet_bytes

Auth = Callable[[str], dict[str, str]]


def post(client: TestClient, auth: Auth, body: bytes) -> str:
    resp = client.post(
        "/batches?contract=orders",
        content=body,
        headers={**auth("producer"), "Content-Type": "application/vnd.apache.parquet"},
    )
    assert resp.status_code < 300, resp.text
    return str(resp.json()["status"])


def test_counts_match_the_listed_batches_within_the_range(client: TestClient, auth: Auth) -> None:
    assert client.post("/contracts", json=contract(), headers=auth("admin")).status_code == 201
    t0 = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)
    previous, clock = get_clock(), SimulatedClock(t0)
    set_clock(clock)
    try:
        kinds = []
        for body in (
            parquet_bytes(orders(3)),  # passed
            parquet_bytes(orders(3).drop("placed_at")),  # rejected
            parquet_bytes(orders(4, amount=[1.0, 2000.0, 3.0, 4.0])),  # quarantined
            parquet_bytes(orders(2)),  # passed, but received after the range below
        ):
            kinds.append(post(client, auth, body))
            clock.advance(timedelta(minutes=10))
    finally:
        set_clock(previous)
    assert kinds == ["passed", "rejected", "quarantined", "passed"]
    params = {"since": t0.isoformat(), "until": (t0 + timedelta(minutes=30)).isoformat()}
    resp = client.get("/batches/counts", params=params, headers=auth("viewer"))
    assert resp.status_code == 200, resp.text
    listed = client.get("/batches", params=params, headers=auth("viewer")).json()
    expected = {s: sum(b["status"] == s for b in listed) for s in kinds}
    assert resp.json() == {
        "passed": expected["passed"],
        "warned": 0,
        "quarantined": expected["quarantined"],
        "rejected": expected["rejected"],
        "total": len(listed),
    }
    assert resp.json()["total"] == 3
    other = client.get("/batches/counts?contract=nothing", headers=auth("viewer")).json()
    assert other["total"] == 0


@pytest.mark.parametrize(
    ("query", "field", "rule"),
    [
        (
            {"since": "2026-11-03T10:00:00Z", "until": "2026-11-03T10:00:00Z"},
            "until",
            "after_since",
        ),
        ({"since": "yesterday"}, "query.since", None),
    ],
)
def test_a_bad_range_is_a_422_naming_the_field(
    client: TestClient, auth: Auth, query: dict[str, str], field: str, rule: str | None
) -> None:
    resp = client.get("/batches/counts", params=query, headers=auth("viewer"))
    assert resp.status_code == 422
    assert resp.headers["content-type"].startswith("application/problem+json")
    assert resp.json()["field"] == field
    if rule:
        assert resp.json()["rule"] == rule
