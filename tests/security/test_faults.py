"""Faults between the API and PostgreSQL, seen over real sockets.

A real uvicorn serves the app against `DATABASE_URL` pointing at a TCP proxy in this test;
cutting the proxy is the database host vanishing (new connections refused, pooled ones reset).
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import sessionmaker

from api.app import create_app
from core.auth import CLI_OPERATOR, Role, create_token
from core.settings import Settings
from tests.builders import contract, orders, parquet_bytes
from tests.security.harness import TcpProxy
from tests.support.servers import serve
from tests.support.trained import Real

NO_DATABASE = {"/health", "/ready", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}


@pytest.fixture
def proxy(committed_db: str) -> Iterator[TcpProxy]:
    url = make_url(committed_db)
    p = TcpProxy(url.host or "127.0.0.1", url.port or 5432).start()
    yield p
    p.stop()


def _proxied(committed_db: str, proxy: TcpProxy) -> str:
    return (
        make_url(committed_db)
        .set(host="127.0.0.1", port=proxy.port)
        .render_as_string(hide_password=False)
    )


def _tokens(committed_db: str) -> dict[str, str]:
    engine = create_engine(committed_db)
    with sessionmaker(bind=engine).begin() as s:
        out = {
            r.value: create_token(s, CLI_OPERATOR, name=f"t-{r.value}", role=r, prefix="dg_")
            for r in (Role.admin, Role.producer)
        }
    engine.dispose()
    return out


def _settings(tmp_path: Path, **overrides: Any) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        max_body_bytes=4 * 1024 * 1024,
        monitor_runner=False,
        governance_bake_guard=False,
        db_connect_timeout_seconds=2,
        db_retry_after_seconds=7,
        **overrides,
    )


def _sample_path(route: APIRoute) -> str:
    """The route's path with each parameter filled by a value of its type."""
    types = {p.name: p.field_info.annotation for p in route.dependant.path_params}

    def fill(m: re.Match[str]) -> str:
        kind = types.get(m.group(1).split(":")[0])
        if kind is uuid.UUID:
            return str(uuid.uuid4())
        return "1" if kind is int else "x"

    return re.sub(r"\{([^}]+)\}", fill, route.path)


def _api_routes(routes: list[Any]) -> Iterator[APIRoute]:
    for route in routes:
        if hasattr(route, "original_router"):  # an included router
            yield from _api_routes(route.original_router.routes)
        elif isinstance(route, APIRoute):
            yield route


def _requests(app: Any) -> list[tuple[str, str]]:
    return [
        (method, _sample_path(route))
        for route in _api_routes(app.routes)
        if route.path not in NO_DATABASE
        for method in sorted(route.methods)
    ]


def test_every_route_answers_503_with_retry_after_while_the_database_is_gone_then_recovers(
    committed_db: str, proxy: TcpProxy, tmp_path: Path
) -> None:
    tokens = _tokens(committed_db)
    admin = {"Authorization": f"Bearer {tokens['admin']}"}
    app = create_app(_settings(tmp_path), database_url=_proxied(committed_db, proxy))
    requests = _requests(app)
    assert len(requests) > 30, "the route table should be walked, not a sample"
    with serve(app) as base, httpx.Client(base_url=base, timeout=30) as http:
        assert http.get("/ready").status_code == 200
        assert http.post("/contracts", json=contract(), headers=admin).status_code == 201
        assert http.get("/batches", headers=admin).status_code == 200

        proxy.cut()
        ready = http.get("/ready")
        assert ready.status_code == 503 and ready.headers["Retry-After"] == "7"
        assert ready.json()["status"] == "unavailable"
        assert http.get("/health").status_code == 200
        wrong = {}
        for method, path in requests:
            started = time.monotonic()
            resp = http.request(method, path, headers=admin)
            took = time.monotonic() - started
            if (
                resp.status_code != 503
                or resp.headers.get("Retry-After") != "7"
                or resp.headers["content-type"] != "application/problem+json"
                or resp.json()["type"] != "urn:driftgate:problem:database-unavailable"
                or took > 5
            ):
                wrong[f"{method} {path}"] = (resp.status_code, resp.text[:200], round(took, 2))
        assert not wrong, wrong
        # The routes served ahead of the router and with streamed bodies too.
        lineage = http.post("/api/v1/lineage", content=b"{}", headers=admin)
        assert lineage.status_code == 503 and lineage.headers["Retry-After"] == "7"
        upload = http.post(
            "/batches?contract=orders",
            content=parquet_bytes(orders(20)),
            headers={**admin, "Content-Type": "application/vnd.apache.parquet"},
        )
        assert upload.status_code == 503, upload.text
        assert not list((tmp_path / "data").rglob("*.parquet")), "nothing half-written"

        proxy.restore()
        deadline = time.monotonic() + 15
        while http.get("/ready").status_code != 200:
            assert time.monotonic() < deadline, "readiness did not come back"
            time.sleep(0.2)
        assert http.get("/batches", headers=admin).status_code == 200
        again = http.post(
            "/batches?contract=orders",
            content=parquet_bytes(orders(20)),
            headers={**admin, "Content-Type": "application/vnd.apache.parquet"},
        )
        assert again.status_code == 201, again.text
        assert http.get("/audit/verify", headers=admin).json()["intact"] is True


@pytest.fixture
def live(committed_db: str, tmp_path: Path) -> Iterator[tuple[httpx.Client, dict[str, str]]]:
    """A real uvicorn on the test database (no proxy) and an admin's headers."""
    tokens = _tokens(committed_db)
    app = create_app(_settings(tmp_path), database_url=committed_db)
    with serve(app) as base, httpx.Client(base_url=base, timeout=60) as http:
        yield http, {"Authorization": f"Bearer {tokens['admin']}"}


def _submit(http: httpx.Client, headers: dict[str, str], body: bytes, query: str) -> httpx.Response:
    return http.post(
        f"/batches?{query}",
        content=body,
        headers={**headers, "Content-Type": "application/vnd.apache.parquet"},
    )


def test_concurrent_replays_of_a_finished_key_all_get_the_stored_result(
    live: tuple[httpx.Client, dict[str, str]],
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    http, admin = live
    assert http.post("/contracts", json=contract(), headers=admin).status_code == 201
    body = parquet_bytes(orders(200))
    key = {**admin, "Idempotency-Key": "nightly-2026-12-07"}
    first = _submit(http, key, body, "contract=orders")
    assert first.status_code == 201, first.text
    with ThreadPoolExecutor(max_workers=12) as pool:
        replays = list(pool.map(lambda _: _submit(http, key, body, "contract=orders"), range(24)))
    statuses = sorted({r.status_code for r in replays})
    assert statuses == [200], [
        (r.status_code, r.text[:200]) for r in replays if r.status_code != 200
    ]
    assert {r.json()["id"] for r in replays} == {first.json()["id"]}
    assert all(r.headers["Idempotent-Replayed"] == "true" for r in replays)
    listed = http.get("/batches?contract=orders", headers=admin).json()
    assert [b["id"] for b in listed] == [first.json()["id"]]


def test_a_key_reused_with_another_version_is_refused_naming_the_rule(
    live: tuple[httpx.Client, dict[str, str]],
) -> None:
    http, admin = live
    assert http.post("/contracts", json=contract(), headers=admin).status_code == 201
    newer = contract(version="1.1.0", description="Orders, with a longer description.")
    resp = http.post("/contracts/orders/versions", json=newer, headers=admin)
    assert resp.status_code == 201, resp.text
    body = parquet_bytes(orders(50))
    key = {**admin, "Idempotency-Key": "k-versioned"}
    assert _submit(http, key, body, "contract=orders&version=1.0.0").status_code == 201
    for query, parameter, rule in (
        ("contract=orders&version=1.1.0", "version", "same_key_same_version"),
        ("contract=orders", "version", "same_key_same_version"),  # newest != as requested
    ):
        reused = _submit(http, key, body, query)
        assert reused.status_code == 422, reused.text
        problem = reused.json()
        assert problem["type"] == "urn:driftgate:problem:idempotency-key-reused"
        assert (problem["field"], problem["rule"], problem["parameter"]) == (
            "Idempotency-Key",
            rule,
            parameter,
        )
    as_csv = http.post(
        "/batches?contract=orders&version=1.0.0",
        content=body,
        headers={**key, "Content-Type": "text/csv"},
    )
    assert as_csv.status_code == 422 and as_csv.json()["rule"] == "same_key_same_format"
    same = _submit(http, key, body, "contract=orders&version=1.0.0")
    assert same.status_code == 200 and same.headers["Idempotent-Replayed"] == "true"
    assert len(http.get("/batches?contract=orders", headers=admin).json()) == 1


def _served(http: httpx.Client, headers: dict[str, str]) -> dict[str, Any]:
    return http.get("/rank/status", headers=headers).json()  # type: ignore[no-any-return]


def test_every_replica_serves_a_new_champion_within_poll_plus_load_time(
    real: Real,
) -> None:
    from core.db import unit_of_work
    from governance.registry import service as registry
    from governance.registry.champion import move_champion

    poll = 1.0  # the production default of ranker_poll_seconds
    settings = real.settings(ranker_poll_seconds=poll, governance_bake_guard=False)
    viewer = real.as_("someone")
    with real.sessions() as s:
        old = registry.get_version(s, "ranker", real.champion).artifact_sha256
        new_version = real.candidates["nudged"]
        new = registry.get_version(s, "ranker", new_version).artifact_sha256
    with (
        serve(create_app(settings, database_url=real.url)) as one,
        serve(create_app(settings, database_url=real.url)) as two,
        httpx.Client(base_url=one, timeout=30) as first,
        httpx.Client(base_url=two, timeout=30) as second,
    ):
        replicas = [first, second]
        deadline = time.monotonic() + 60
        while any(_served(r, viewer)["served_sha256"] != old for r in replicas):
            assert time.monotonic() < deadline, "the champion was never served"
            time.sleep(0.1)
        try:
            with unit_of_work(real.sessions) as s:
                move_champion(s, CLI_OPERATOR, name="ranker", version=new_version, via="set")
            promoted = time.monotonic()
            took: dict[int, float] = {}
            while len(took) < len(replicas):
                for i, replica in enumerate(replicas):
                    if i not in took and _served(replica, viewer)["served_sha256"] == new:
                        took[i] = time.monotonic() - promoted
                assert time.monotonic() - promoted < 60, f"not every replica swapped: {took}"
                time.sleep(0.02)
            statuses = [_served(r, viewer) for r in replicas]
        finally:
            with unit_of_work(real.sessions) as s:
                move_champion(s, CLI_OPERATOR, name="ranker", version=real.champion, via="set")
    for i, status in enumerate(statuses):
        assert status["served_version"] == new_version
        assert status["champion_sha256"] == status["served_sha256"] == new
        assert status["poll_seconds"] == poll and status["checked_at"] is not None
        bound = status["poll_seconds"] + status["last_load_seconds"]
        # 1.5 s of slack for this test's own polling and a machine shared by many sessions.
        assert took[i] <= bound + 1.5, (took, bound)
    loads = [s["last_load_seconds"] for s in statuses]
    print(f"swap after promotion: {took} s; poll {poll} s, load {loads} s")


def test_a_statement_stuck_past_the_timeout_is_503_database_timeout_not_a_hang(
    committed_db: str, tmp_path: Path
) -> None:
    tokens = _tokens(committed_db)
    viewer = {"Authorization": f"Bearer {tokens['admin']}"}
    app = create_app(_settings(tmp_path, db_statement_timeout_ms=300), database_url=committed_db)
    locker = create_engine(committed_db)
    with serve(app) as base, httpx.Client(base_url=base, timeout=30) as http:
        assert http.get("/batches", headers=viewer).status_code == 200
        with locker.connect() as conn:
            conn.exec_driver_sql("BEGIN")
            conn.exec_driver_sql("LOCK TABLE batches IN ACCESS EXCLUSIVE MODE")
            started = time.monotonic()
            resp = http.get("/batches", headers=viewer)
            took = time.monotonic() - started
            conn.exec_driver_sql("ROLLBACK")
        assert resp.status_code == 503, resp.text
        assert resp.headers["Retry-After"] == "7"
        assert resp.json()["type"] == "urn:driftgate:problem:database-timeout"
        assert took < 5
        assert http.get("/batches", headers=viewer).status_code == 200
    locker.dispose()


def test_batches_past_the_in_flight_bound_are_shed_and_health_stays_up(
    committed_db: str, tmp_path: Path
) -> None:
    import threading

    tokens = _tokens(committed_db)
    admin = {"Authorization": f"Bearer {tokens['admin']}"}
    app = create_app(_settings(tmp_path, batches_max_in_flight=2), database_url=committed_db)
    release = threading.Event()
    csv = b"order_id,amount,quantity,status,placed_at\n" + b"o1,1.0,1,new,2026-12-07T00:00:00Z\n"

    def held_body() -> Iterator[bytes]:
        yield csv
        release.wait(30)

    with serve(app) as base, httpx.Client(base_url=base, timeout=60) as http:
        assert http.post("/contracts", json=contract(), headers=admin).status_code == 201
        answers: list[int] = []

        def upload() -> None:
            with httpx.Client(base_url=base, timeout=60) as own:
                answers.append(
                    own.post(
                        "/batches?contract=orders",
                        content=held_body(),
                        headers={**admin, "Content-Type": "text/csv"},
                    ).status_code
                )

        held = [threading.Thread(target=upload) for _ in range(2)]
        for t in held:
            t.start()
        deadline = time.monotonic() + 10
        while app.state.load_guard.in_flight["POST /batches"] < 2:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        started = time.monotonic()
        shed = _submit(http, admin, parquet_bytes(orders(5)), "contract=orders")
        assert time.monotonic() - started < 2
        assert shed.status_code == 503 and shed.headers["Retry-After"] == "1"
        assert shed.json()["type"] == "urn:driftgate:problem:overloaded"
        assert http.get("/health").status_code == 200
        release.set()
        for t in held:
            t.join(30)
        assert answers == [201, 201]
        assert _submit(http, admin, parquet_bytes(orders(5)), "contract=orders").status_code == 201
