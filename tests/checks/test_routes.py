"""Batch intake over HTTP: formats, results, quarantine, idempotency, atomicity."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from core.settings import Settings
from tests.builders import contract, csv_bytes, ndjson_bytes, orders, parquet_bytes

Auth = Callable[[str], dict[str, str]]
PARQUET = "application/vnd.apache.parquet"


@pytest.fixture
def registered(client: TestClient, auth: Auth) -> None:
    assert client.post("/contracts", json=contract(), headers=auth("admin")).status_code == 201


def _post(client: TestClient, auth: Auth, body: bytes, media: str = PARQUET, **headers: str):  # type: ignore[no-untyped-def]
    return client.post(
        "/batches?contract=orders",
        content=body,
        headers={**auth("producer"), "Content-Type": media, **headers},
    )


@pytest.mark.usefixtures("registered")
@pytest.mark.parametrize(
    ("media", "encode"),
    [(PARQUET, parquet_bytes), ("text/csv", csv_bytes), ("application/x-ndjson", ndjson_bytes)],
)
def test_a_clean_batch_passes_in_every_format(
    client: TestClient, auth: Auth, media: str, encode
) -> None:  # type: ignore[no-untyped-def]
    resp = _post(client, auth, encode(orders(20)), media)
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert body["status"] == "passed"
    assert body["rows_received"] == body["rows_accepted"] == 20 and body["rows_quarantined"] == 0
    assert resp.headers["location"] == f"/batches/{body['id']}"
    assert {r["rule_id"] for r in body["rules"]} >= {
        "amount.min",
        "amount.max",
        "order_id.pattern",
        "row_count",
        "freshness",
    }


@pytest.mark.usefixtures("registered")
def test_quarantines_rows_that_break_rules_and_keeps_the_rest(
    client: TestClient, auth: Auth
) -> None:
    frame = orders(
        10,
        amount=[10.0, 2000.0, 5.0, -1.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0],
        status=["new", "lost", "paid", "new", "paid", "new", "paid", "new", "paid", "new"],
    )
    body = _post(client, auth, parquet_bytes(frame)).json()
    assert body["status"] == "quarantined"
    assert (body["rows_accepted"], body["rows_quarantined"]) == (8, 2)
    rules = {r["rule_id"]: r for r in body["rules"]}
    assert rules["amount.max"]["failing_rows"] == 1 and rules["amount.max"]["observed"] == 2000.0
    assert rules["amount.max"]["threshold"] == 1000 and rules["amount.max"]["examples"] == [2000.0]
    assert rules["status.allowed_values"]["examples"] == ["lost"]
    assert rules["amount.min"]["passed"] is False and rules["quantity.max"]["passed"] is True
    q = client.get(f"/batches/{body['id']}/quarantine", headers=auth("viewer")).json()
    assert q["total"] == 2
    by_row = {r["_row"]: r for r in q["rows"]}
    assert set(by_row) == {1, 3}
    assert by_row[1]["_rule_ids"] == ["amount.max", "status.allowed_values"]
    assert "amount.max" in by_row[1]["_reasons"] and by_row[1]["amount"] == 2000.0
    assert by_row[3]["_rule_ids"] == ["amount.min"]


@pytest.mark.usefixtures("registered")
def test_a_batch_breaking_a_reject_rule_is_refused_whole(client: TestClient, auth: Auth) -> None:
    body = _post(client, auth, parquet_bytes(orders(5).drop("placed_at"))).json()
    assert body["status"] == "rejected"
    assert body["rows_accepted"] == 0 and body["rows_quarantined"] == 5
    q = client.get(f"/batches/{body['id']}/quarantine", headers=auth("viewer")).json()
    assert all("batch rejected: placed_at.present" in r["_reasons"] for r in q["rows"])


@pytest.mark.usefixtures("registered")
def test_csv_values_that_do_not_parse_are_type_violations_with_original_values_kept(
    client: TestClient, auth: Auth
) -> None:
    csv = (
        b"order_id,amount,quantity,status,placed_at\n"
        b"o1,12.5,2,new,2026-01-01T00:00:00Z\n"
        b"o2,abc,2,new,2026-01-01T00:00:00Z\n"
    )
    body = _post(client, auth, csv, "text/csv").json()
    assert body["rows_quarantined"] == 1
    q = client.get(f"/batches/{body['id']}/quarantine", headers=auth("viewer")).json()
    assert q["rows"][0]["amount"] == "abc" and "amount.type" in q["rows"][0]["_rule_ids"]
    rules = {r["rule_id"]: r for r in body["rules"]}
    assert rules["amount.type"]["examples"] == ["abc"]  # the value as sent, not null
    stored = client.get(f"/batches/{body['id']}", headers=auth("viewer")).json()
    assert {r["rule_id"]: r for r in stored["rules"]}["amount.type"]["examples"] == ["abc"]


@pytest.mark.usefixtures("registered")
def test_multipart_upload_is_accepted(client: TestClient, auth: Auth) -> None:
    files = {"file": ("orders.parquet", parquet_bytes(orders(3)), PARQUET)}
    resp = client.post("/batches?contract=orders", files=files, headers=auth("producer"))
    assert resp.status_code == 201 and resp.json()["rows_accepted"] == 3


@pytest.mark.usefixtures("registered")
@pytest.mark.parametrize(
    ("body", "media", "status", "rule"),
    [
        (b"not parquet", PARQUET, 400, "parquet_parses"),
        (b"order_id,amount\n\xff\xfe,1\n", "text/csv", 400, "utf8"),
        (b"order_id,amount\no1\x00,1\n", "text/csv", 400, "no_nul_bytes"),
        (b'{"order_id": "o1"\n', "application/x-ndjson", 400, "ndjson_parses"),
        (b"{}", "application/json", 415, "supported_media_type"),
    ],
)
def test_unreadable_bodies_get_4xx_and_store_nothing(
    client: TestClient, auth: Auth, db: Session, body: bytes, media: str, status: int, rule: str
) -> None:
    before = db.execute(text("SELECT count(*) FROM batches")).scalar_one()
    resp = _post(client, auth, body, media)
    assert resp.status_code == status, resp.text
    assert resp.json()["rule"] == rule
    assert db.execute(text("SELECT count(*) FROM batches")).scalar_one() == before


def test_unknown_contract_or_version_is_404(
    client: TestClient, auth: Auth, registered: None
) -> None:
    resp = client.post(
        "/batches?contract=nope",
        content=parquet_bytes(orders(1)),
        headers={**auth("producer"), "Content-Type": PARQUET},
    )
    assert resp.status_code == 404
    resp = client.post(
        "/batches?contract=orders&version=9.0.0",
        content=parquet_bytes(orders(1)),
        headers={**auth("producer"), "Content-Type": PARQUET},
    )
    assert resp.status_code == 404 and resp.json()["field"] == "version"


@pytest.mark.usefixtures("registered")
def test_idempotency_key_replays_the_same_result_and_refuses_a_different_body(
    client: TestClient, auth: Auth, db: Session
) -> None:
    body = parquet_bytes(orders(4))
    first = _post(client, auth, body, **{"Idempotency-Key": "k-1"})
    again = _post(client, auth, body, **{"Idempotency-Key": "k-1"})
    assert first.status_code == 201 and again.status_code == 200
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert db.execute(text("SELECT count(*) FROM batches")).scalar_one() == 1
    other = _post(client, auth, parquet_bytes(orders(5)), **{"Idempotency-Key": "k-1"})
    assert other.status_code == 422 and other.json()["field"] == "Idempotency-Key"


@pytest.mark.usefixtures("registered")
def test_batches_are_listed_and_fetched_with_rules_and_profile(
    client: TestClient, auth: Auth
) -> None:
    ids = [_post(client, auth, parquet_bytes(orders(3))).json()["id"] for _ in range(2)]
    listed = client.get("/batches?contract=orders", headers=auth("viewer")).json()
    assert {b["id"] for b in listed} == set(ids)
    assert client.get("/batches?status=rejected", headers=auth("viewer")).json() == []
    detail = client.get(f"/batches/{ids[0]}", headers=auth("viewer")).json()
    assert detail["rules"] and detail["accepted_sha256"]
    profile = client.get(f"/batches/{ids[0]}/profile", headers=auth("viewer")).json()["columns"]
    assert profile["amount"]["count"] == 3 and profile["amount"]["min"] == 10.0
    assert profile["amount"]["sketch"]["kind"] == "log_bucket"
    assert profile["status"]["top"]["values"]
    assert client.get(f"/batches/{uuid.uuid4()}", headers=auth("viewer")).status_code == 404
    assert client.get("/batches/not-a-uuid", headers=auth("viewer")).status_code == 422


@pytest.mark.usefixtures("registered")
def test_batches_received_in_a_time_range_are_listed_with_since_and_an_exclusive_until(
    client: TestClient, auth: Auth
) -> None:
    from core.clock import SimulatedClock, get_clock, set_clock

    t0 = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
    previous = get_clock()
    clock = SimulatedClock(t0)
    set_clock(clock)
    try:
        ids = []
        for _ in range(4):  # received at 12:00, 12:10, 12:20, 12:30
            ids.append(_post(client, auth, parquet_bytes(orders(2))).json()["id"])
            clock.advance(timedelta(minutes=10))
    finally:
        set_clock(previous)

    def listed(**query: str) -> list[str]:
        resp = client.get(
            "/batches", params={"contract": "orders", **query}, headers=auth("viewer")
        )
        assert resp.status_code == 200, resp.text
        return [b["id"] for b in resp.json()]

    at = {m: (t0 + timedelta(minutes=m)).isoformat() for m in (0, 10, 20, 30)}
    assert listed(since=at[10], until=at[30]) == [ids[2], ids[1]]  # newest first, 12:30 excluded
    assert listed(until=at[10]) == [ids[0]]
    assert listed(since=at[30]) == [ids[3]]
    bad = client.get("/batches", params={"since": at[20], "until": at[20]}, headers=auth("viewer"))
    assert bad.status_code == 422
    assert (bad.json()["field"], bad.json()["rule"]) == ("until", "after_since")


@pytest.mark.usefixtures("registered")
def test_stored_files_match_their_sha256_and_rows_add_up(
    client: TestClient, auth: Auth, db: Session
) -> None:
    import hashlib

    body = _post(
        client, auth, parquet_bytes(orders(6, amount=[1.0, 2.0, 3.0, 4000.0, 5.0, 6.0]))
    ).json()
    row = db.execute(
        text(
            "SELECT accepted_path, accepted_sha256, quarantine_path, quarantine_sha256,"
            " rows_received, rows_accepted, rows_quarantined FROM batches WHERE id = :i"
        ),
        {"i": body["id"]},
    ).one()
    assert hashlib.sha256(Path(row[0]).read_bytes()).hexdigest() == row[1]
    assert hashlib.sha256(Path(row[2]).read_bytes()).hexdigest() == row[3]
    assert row[5] + row[6] == row[4] == 6


@pytest.mark.usefixtures("registered")
def test_batch_submission_is_audited(client: TestClient, auth: Auth) -> None:
    batch_id = _post(client, auth, parquet_bytes(orders(2))).json()["id"]
    events = client.get(f"/audit?object=batch:{batch_id}", headers=auth("viewer")).json()
    assert len(events) == 1 and events[0]["actor"] == "test-producer"
    assert events[0]["payload"]["after"]["status"] == "passed"


@pytest.mark.usefixtures("registered")
def test_a_failure_after_files_are_written_leaves_no_batch_visible(
    client: TestClient, auth: Auth, db: Session, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from checks import service

    def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError("simulated crash while writing the audit event")

    monkeypatch.setattr(service.audit, "record", crash)
    resp = _post(client, auth, parquet_bytes(orders(3)))
    assert resp.status_code == 500
    assert resp.headers["content-type"].startswith("application/problem+json")
    assert db.execute(text("SELECT count(*) FROM batches")).scalar_one() == 0
    assert db.execute(text("SELECT count(*) FROM rule_results")).scalar_one() == 0
    batch_dir = settings.data_dir / "batches" / "orders"
    assert not batch_dir.exists() or not any(batch_dir.iterdir())


@pytest.mark.usefixtures("registered")
def test_freshness_reports_fresh_then_late_then_stale(client: TestClient, auth: Auth) -> None:
    from core.clock import SimulatedClock, SystemClock, set_clock

    start = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    clock = SimulatedClock(start)
    set_clock(clock)
    try:
        assert (
            client.get("/contracts/orders/freshness", headers=auth("viewer")).json()["status"]
            == "no_data"
        )
        _post(client, auth, parquet_bytes(orders(3, placed_at=start - timedelta(minutes=10))))
        fresh = client.get("/contracts/orders/freshness", headers=auth("viewer")).json()
        assert fresh["status"] == "fresh" and fresh["lag_seconds"] == 600
        clock.advance(timedelta(minutes=90))  # cadence is 1 h: the next batch is overdue
        assert (
            client.get("/contracts/orders/freshness", headers=auth("viewer")).json()["status"]
            == "late"
        )
        clock.advance(timedelta(minutes=60))  # a batch arrives, but its data is old
        _post(client, auth, parquet_bytes(orders(3, placed_at=start - timedelta(hours=3))))
        stale = client.get("/contracts/orders/freshness", headers=auth("viewer")).json()
        assert stale["status"] == "stale" and stale["lag_seconds"] > stale["max_lag_seconds"]
    finally:
        set_clock(SystemClock())


@pytest.mark.usefixtures("registered")
def test_reserved_column_names_are_refused_with_422(client: TestClient, auth: Auth) -> None:
    resp = _post(client, auth, parquet_bytes(orders(2).with_columns(pl.lit(1).alias("_row"))))
    assert resp.status_code == 422 and resp.json()["rule"] == "reserved_column_names"


@pytest.mark.usefixtures("registered")
def test_nested_ndjson_values_are_type_violations_not_errors(
    client: TestClient, auth: Auth
) -> None:
    line = b'{"order_id": "o%d", "amount": {"v": 1}, "placed_at": "2026-01-01T00:00:00Z"}'
    resp = _post(client, auth, b"\n".join(line % i for i in range(3)), "application/x-ndjson")
    assert resp.status_code == 201, resp.text
    assert resp.json()["rows_quarantined"] == 3
    typed = {r["rule_id"]: r for r in resp.json()["rules"]}["amount.type"]
    assert typed["failing_rows"] == 3 and typed["examples"] == [{"v": 1}] * 3
    # A column whose JSON type changes from row to row cannot be read at all: 400, not 500.
    mixed = [line % 1, b'{"order_id": "o2", "amount": 1.0, "placed_at": "2026-01-01T00:00:00Z"}']
    resp = _post(client, auth, b"\n".join(mixed), "application/x-ndjson")
    assert resp.status_code == 400 and resp.json()["rule"] == "ndjson_parses"


@pytest.mark.usefixtures("registered")
def test_nul_characters_inside_batch_values_are_stored_safely(
    client: TestClient, auth: Auth
) -> None:
    frame = orders(2, status=["new", "bad\x00value"])
    body = _post(client, auth, parquet_bytes(frame)).json()
    assert body["status"] == "quarantined"
    rule = next(r for r in body["rules"] if r["rule_id"] == "status.allowed_values")
    assert rule["examples"] == ["bad\ufffdvalue"]
