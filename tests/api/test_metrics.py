"""GET /metrics over a real socket: per-route series by template, domain figures from Postgres."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import sessionmaker

from api.app import create_app
from core.auth import CLI_OPERATOR, Role, create_token
from core.settings import Settings
from tests.builders import contract, orders, parquet_bytes
from tests.security.harness import TcpProxy
from tests.support.servers import serve


def _settings(tmp_path: Path, **overrides: Any) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        monitor_runner=False,
        governance_bake_guard=False,
        ranker_serving=False,
        metrics_db_cache_seconds=0,
        db_connect_timeout_seconds=2,
        **overrides,
    )


def _tokens(url: str) -> dict[str, dict[str, str]]:
    engine = create_engine(url)
    with sessionmaker(bind=engine).begin() as s:
        out = {
            r.value: create_token(s, CLI_OPERATOR, name=f"m-{r.value}", role=r, prefix="dg_")
            for r in (Role.admin, Role.viewer)
        }
    engine.dispose()
    return {k: {"Authorization": f"Bearer {v}"} for k, v in out.items()}


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
def live(committed_db: str, tmp_path: Path) -> Iterator[tuple[httpx.Client, dict[str, Any]]]:
    tokens = _tokens(committed_db)
    app = create_app(_settings(tmp_path), database_url=committed_db)
    with serve(app) as base, httpx.Client(base_url=base, timeout=60) as http:
        yield http, {**tokens, "url": committed_db}


def test_metrics_count_requests_by_route_template_and_report_domain_figures(
    live: tuple[httpx.Client, dict[str, Any]],
) -> None:
    http, tokens = live
    admin, viewer = tokens["admin"], tokens["viewer"]
    assert http.get("/metrics").status_code == 401
    assert http.post("/contracts", json=contract(), headers=admin).status_code == 201
    parquet = {**admin, "Content-Type": "application/vnd.apache.parquet"}
    frames = [orders(40), orders(50, amount=[5000.0, 9000.0] + [1.0] * 48), orders(10)]
    results = [
        http.post("/batches?contract=orders", content=parquet_bytes(f), headers=parquet).json()
        for f in frames
    ]
    ids = [r["id"] for r in results]
    for batch_id in [*ids, str(uuid.uuid4())]:  # three found, one 404
        http.get(f"/batches/{batch_id}", headers=viewer)
    http.get("/no/such/thing", headers=viewer)
    audit = http.get("/audit?limit=1000", headers=viewer).json()
    _drift_windows(tokens["url"], ids[0])

    resp = http.get("/metrics", headers=viewer)
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/plain")
    assert not any(batch_id in resp.text for batch_id in ids), "raw paths are never labels"
    samples = _samples(resp.text)
    requests = "driftgate_http_requests_total"
    by_template = {"method": "GET", "route": "/batches/{batch_id}"}
    assert _value(samples, requests, **by_template, status="200") == 3
    assert _value(samples, requests, **by_template, status="404") == 1
    assert _value(samples, requests, method="GET", route="<unmatched>", status="404") == 1
    assert _value(samples, requests, method="POST", route="/batches", status="201") == 3
    assert _value(samples, requests, method="GET", route="/metrics", status="401") == 1
    count = "driftgate_http_request_duration_seconds_count"
    assert _value(samples, count, **by_template) == 4
    # Domain figures against the batch results the API returned.
    statuses = [r["status"] for r in results]
    for status in set(statuses):
        assert _value(samples, "driftgate_batches_total", status=status) == statuses.count(status)
    for outcome in ("received", "accepted", "quarantined"):
        expected = sum(r[f"rows_{outcome}"] for r in results)
        assert _value(samples, "driftgate_batch_rows_total", outcome=outcome) == expected
    received = sum(r["rows_received"] for r in results)
    quarantined = sum(r["rows_quarantined"] for r in results)
    assert quarantined > 0
    assert _value(samples, "driftgate_quarantine_ratio") == pytest.approx(quarantined / received)
    head = max(audit, key=lambda e: e["seq"])
    assert _value(samples, "driftgate_audit_chain_head_seq") == head["seq"]
    assert _value(samples, "driftgate_audit_chain_head", hash=head["hash"]) == 1
    assert _value(samples, "driftgate_database_up") == 1
    verdicts = "driftgate_drift_verdicts_total"
    assert (
        _value(samples, verdicts, verdict="alert"),
        _value(samples, verdicts, verdict="ok"),
    ) == (
        2,
        1,
    )
    latest = "driftgate_drift_latest_verdict"
    assert _value(samples, latest, contract="orders", verdict="ok") == 1
    assert _value(samples, latest, contract="orders", verdict="alert") == 0


def _drift_windows(url: str, batch_id: str) -> None:
    """Stored verdicts: an alerting window, a newer ok window, and a newer alerting batch."""
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import text

    base = datetime(2026, 12, 7, tzinfo=UTC)
    rows = [
        ("window", base, None, "alert"),
        ("window", base + timedelta(hours=1), None, "ok"),
        ("batch", base + timedelta(hours=2), batch_id, "alert"),
    ]
    engine = create_engine(url)
    with engine.begin() as conn:
        for kind, start, batch, verdict in rows:
            conn.execute(
                text(
                    "INSERT INTO drift_windows (contract_id, kind, window_start, window_end, "
                    "batch_id, verdict, rows, batches, fields, computed_at) VALUES ('orders', "
                    ":kind, :start, :end, :batch, :verdict, 100, 1, '{}', :start)"
                ),
                {
                    "kind": kind,
                    "start": start,
                    "end": start + timedelta(hours=1),
                    "batch": batch,
                    "verdict": verdict,
                },
            )
    engine.dispose()


def test_route_label_cardinality_stays_at_the_route_table(
    live: tuple[httpx.Client, dict[str, Any]],
) -> None:
    http, tokens = live
    for _ in range(40):
        http.get(f"/batches/{uuid.uuid4()}", headers=tokens["viewer"])
        http.get(f"/random/{uuid.uuid4()}", headers=tokens["viewer"])
    text = http.get("/metrics", headers=tokens["viewer"]).text
    routes = {
        s.labels["route"]
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if "route" in s.labels
    }
    # The shed-guarded routes are always listed; a scrape is counted after it ends.
    assert routes == {"/batches/{batch_id}", "<unmatched>", "/rank", "/batches", "/api/v1/lineage"}


def test_public_metrics_answer_while_the_database_is_down(
    committed_db: str, tmp_path: Path
) -> None:
    viewer = _tokens(committed_db)["viewer"]
    url = make_url(committed_db)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432).start()
    proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    try:
        app = create_app(_settings(tmp_path, metrics_public=True), database_url=proxied)
        with serve(app) as base, httpx.Client(base_url=base, timeout=30) as http:
            assert _value(_samples(http.get("/metrics").text), "driftgate_database_up") == 1
            proxy.cut()
            assert http.get("/batches", headers=viewer).status_code == 503
            resp = http.get("/metrics")
            assert resp.status_code == 200
            samples = _samples(resp.text)
            assert _value(samples, "driftgate_database_up") == 0
            assert (
                _value(
                    samples,
                    "driftgate_http_requests_total",
                    method="GET",
                    route="/batches",
                    status="503",
                )
                == 1
            )
    finally:
        proxy.stop()


def test_a_lifespan_that_runs_again_keeps_one_database_collector(
    committed_db: str, tmp_path: Path
) -> None:
    """An app whose lifespan runs twice (ASGI harnesses do it per test) scrapes its database
    once, on the live engine: the first lifespan's collector leaves with its engine. It used
    to stay registered, and every scrape reopened connections on the disposed engines and left
    them idle (80 at once during the schemathesis run, against max_connections 100)."""
    from fastapi.testclient import TestClient

    tokens = _tokens(committed_db)
    app = create_app(_settings(tmp_path), database_url=committed_db)
    for _ in range(3):
        with TestClient(app) as client:
            text = client.get("/metrics", headers=tokens["viewer"]).text
    up = [line for line in text.splitlines() if line.startswith("driftgate_database_up ")]
    assert up == ["driftgate_database_up 1.0"], up
    assert app.state.metrics_database is None  # the last lifespan took its collector along
