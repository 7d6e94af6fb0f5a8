"""Group commit: concurrent ingest shares transactions, yet nothing is lost, forked or half-written.

These tests commit for real (a fresh database each). To put several events in one group on
purpose, a test holds the audit chain's lock: the writer's transaction in flight waits for it,
and the events submitted meanwhile queue up and are written together once it is released.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from core.audit import AUDIT_CHAIN_LOCK, verify_chain
from core.auth import CLI_OPERATOR, Role, create_token, revoke_token
from core.errors import Forbidden, Unauthorized
from core.settings import Settings
from lineage.errors import InvalidLineageEvent
from lineage.routes import PRODUCER_ROLES, authorize_producer
from lineage.service import Ingested, prepare_event
from lineage.writer import DedicatedConnection, GroupCommitWriter
from tests.lineage.events import dataset, run_event
from tests.support.servers import serve


@dataclass
class Store:
    engine: Engine
    sessions: sessionmaker[Session]
    tokens: dict[str, str]

    def scalar(self, sql: str, **params: Any) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(text(sql), params).scalar()

    def stored(self, event: dict[str, Any]) -> bool:
        digest = prepare_event(event).rows.event_hash
        found = self.scalar("SELECT count(*) FROM lineage_events WHERE event_hash = :h", h=digest)
        return bool(found)


@pytest.fixture
def store(committed_db: str) -> Iterator[Store]:
    engine = create_engine(committed_db, pool_size=5)
    sessions = sessionmaker(bind=engine, expire_on_commit=False, autoflush=False)
    with sessions.begin() as s:
        tokens = {
            name: create_token(s, CLI_OPERATOR, name=name, role=Role(role), prefix="dg_")
            for name, role in (
                ("producer", "producer"),
                ("viewer", "viewer"),
                ("revoked", "producer"),
            )
        }
        revoke_token(s, CLI_OPERATOR, name="revoked")
    yield Store(engine, sessions, tokens)
    engine.dispose()


@pytest.fixture
def writer(store: Store) -> Iterator[GroupCommitWriter]:
    connection = DedicatedConnection(store.sessions)
    writer = GroupCommitWriter(connection, authorize_producer, roles=PRODUCER_ROLES)
    writer.start()
    yield writer
    writer.stop()
    connection.close()


class ChainLock:
    """Hold the audit chain's lock from outside, so the writer's transaction waits for it."""

    def __init__(self, store: Store) -> None:
        url = store.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._conn = psycopg.connect(url, autocommit=True)

    def __enter__(self) -> ChainLock:
        self._conn.execute("SELECT pg_advisory_lock(%s)", (AUDIT_CHAIN_LOCK,))
        return self

    def __exit__(self, *exc: object) -> None:
        self._conn.execute("SELECT pg_advisory_unlock(%s)", (AUDIT_CHAIN_LOCK,))
        self._conn.close()


async def writer_waits_for_the_chain_lock(store: Store, timeout: float = 30) -> None:
    """Return once a transaction of this database waits for the audit chain's advisory lock."""
    deadline = time.monotonic() + timeout
    while not store.scalar(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event = 'advisory'"
    ):
        assert time.monotonic() < deadline, "the writer never reached the chain lock"
        await asyncio.sleep(0.01)


async def submit_grouped(
    store: Store, writer: GroupCommitWriter, items: list[tuple[str, dict[str, Any]]]
) -> list[Any]:
    """Write a blocker event alone, stall it on the chain lock, queue `items`, release: the
    items are then written as one group. Returns each item's outcome (result or error)."""
    blocker = run_event("blocker", outputs=[dataset(f"blocker-{uuid.uuid4()}")])
    with ChainLock(store):
        first = asyncio.ensure_future(
            writer.submit(store.tokens["producer"], prepare_event(blocker))
        )
        await writer_waits_for_the_chain_lock(store)  # with the blocker, alone
        tasks = [
            asyncio.ensure_future(writer.submit(token, prepare_event(event)))
            for token, event in items
        ]
        await asyncio.sleep(0)  # one loop turn: each task has queued its event
        groups_before = writer.groups
    assert isinstance(await first, Ingested)
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    return [groups_before, *outcomes]


def audits(store: Store) -> int:
    return int(
        store.scalar("SELECT count(*) FROM audit_events WHERE action = 'lineage.event.ingest'")
    )


def test_concurrent_events_are_written_in_groups_and_each_is_durable_when_answered(
    store: Store, writer: GroupCommitWriter
) -> None:
    events = [
        run_event(f"job{i}", inputs=[dataset("raw")], outputs=[dataset(f"out{i}")])
        for i in range(40)
    ]

    async def one(event: dict[str, Any]) -> bool:
        result = await writer.submit(store.tokens["producer"], prepare_event(event))
        assert not result.duplicate
        return store.stored(event)  # committed before the answer: another session sees it

    async def main() -> list[bool]:
        with ChainLock(store):
            tasks = [asyncio.ensure_future(one(e)) for e in events]
            await writer_waits_for_the_chain_lock(store)
        return await asyncio.gather(*tasks)

    assert all(asyncio.run(main()))
    assert writer.groups >= 1
    assert store.scalar("SELECT count(*) FROM lineage_events") == 40
    assert audits(store) == 40
    with store.sessions() as s:
        assert verify_chain(s).intact


def test_a_run_that_moves_to_another_job_is_refused_alone_and_its_group_is_still_written(
    store: Store, writer: GroupCommitWriter
) -> None:
    run_id = str(uuid.uuid4())
    token = store.tokens["producer"]
    asyncio.run(writer.submit(token, prepare_event(run_event("a", run_id=run_id))))
    good1 = run_event("g1", outputs=[dataset("g1")])
    moved = run_event("b", run_id=run_id, minutes=1, outputs=[dataset("moved")])
    good2 = run_event("g2", outputs=[dataset("g2")])
    _, r1, refused, r2 = asyncio.run(
        submit_grouped(store, writer, [(token, good1), (token, moved), (token, good2)])
    )
    assert writer.retried_groups == 1  # written together, refused together, retried alone
    assert isinstance(r1, Ingested) and isinstance(r2, Ingested)
    assert isinstance(refused, InvalidLineageEvent)
    assert (refused.field, refused.rule) == ("$.run.runId", "run_belongs_to_one_job")
    assert store.stored(good1) and store.stored(good2) and not store.stored(moved)
    assert store.scalar("SELECT count(*) FROM lineage_datasets WHERE name = 'moved'") == 0
    assert audits(store) == 4  # a, blocker, g1, g2


def test_tokens_are_checked_in_the_writing_transaction_and_refusals_say_why(
    store: Store, writer: GroupCommitWriter
) -> None:
    events = {name: run_event(name, outputs=[dataset(name)]) for name in ("ok", "x", "v", "r")}
    tokens = {
        "ok": store.tokens["producer"],
        "x": "dg_not-a-token",
        "v": store.tokens["viewer"],
        "r": store.tokens["revoked"],
    }
    _, ok, unknown, viewer, revoked = asyncio.run(
        submit_grouped(store, writer, [(tokens[n], events[n]) for n in ("ok", "x", "v", "r")])
    )
    assert isinstance(ok, Ingested)
    assert isinstance(unknown, Unauthorized) and isinstance(revoked, Unauthorized)
    assert isinstance(viewer, Forbidden) and viewer.rule == "role"
    assert [store.stored(events[n]) for n in ("ok", "x", "v", "r")] == [True, False, False, False]
    assert (
        store.scalar("SELECT count(*) FROM lineage_events WHERE received_by = 'producer'") == 2
    )  # ok and the blocker
    assert asyncio.run(writer.authorize(store.tokens["producer"])).name == "producer"
    with pytest.raises(Forbidden):
        asyncio.run(writer.authorize(store.tokens["viewer"]))


def test_a_database_error_in_one_event_loses_none_of_the_others(
    store: Store, writer: GroupCommitWriter
) -> None:
    with store.engine.begin() as conn:  # a real constraint of this database, not a mock
        conn.execute(
            text(
                """
CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.name = 'poison' THEN RAISE EXCEPTION 'poisoned dataset'; END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER refuse_poison BEFORE INSERT ON lineage_datasets
    FOR EACH ROW EXECUTE FUNCTION refuse_poison();
"""
            )
        )
    token = store.tokens["producer"]
    good1 = run_event("g1", outputs=[dataset("g1")])
    poison = run_event("p", outputs=[dataset("poison")])
    good2 = run_event("g2", outputs=[dataset("g2")])
    _, r1, failed, r2 = asyncio.run(
        submit_grouped(store, writer, [(token, good1), (token, poison), (token, good2)])
    )
    assert writer.retried_groups == 1
    assert isinstance(r1, Ingested) and isinstance(r2, Ingested)
    assert isinstance(failed, psycopg.errors.RaiseException)
    assert store.stored(good1) and store.stored(good2) and not store.stored(poison)
    assert audits(store) == 3
    after = run_event("after", outputs=[dataset("after")])  # the writer carries on
    assert isinstance(asyncio.run(writer.submit(token, prepare_event(after))), Ingested)


def test_repeats_inside_one_group_are_duplicates_and_audited_once(
    store: Store, writer: GroupCommitWriter
) -> None:
    token = store.tokens["producer"]
    event = run_event("once", outputs=[dataset("once")])
    reordered = json.loads(json.dumps(dict(reversed(list(event.items())))))
    other = run_event("other", outputs=[dataset("other")])
    groups_before, first, again, third = asyncio.run(
        submit_grouped(store, writer, [(token, event), (token, reordered), (token, other)])
    )
    assert writer.groups > groups_before
    assert [first.duplicate, again.duplicate, third.duplicate] == [False, True, False]
    assert audits(store) == 3  # blocker, once, other


def test_two_writers_sharing_datasets_commit_every_group(store: Store) -> None:
    """As with `driftgate serve --workers 2`: two writers whose groups upsert the same
    datasets at the same time. Each statement locks rows in key order, so the two wait for
    each other at worst and no group fails (no deadlock, no retry)."""
    connections = [DedicatedConnection(store.sessions) for _ in range(2)]
    writers = [  # small groups: many transactions, overlapping in time
        GroupCommitWriter(c, authorize_producer, roles=PRODUCER_ROLES, max_group=4)
        for c in connections
    ]
    for w in writers:
        w.start()
    shared = [dataset(f"shared{i}", fields=("a",)) for i in range(6)]
    events = [
        run_event(
            f"job{i}",
            inputs=[shared[(i * 5 + k) % 6] for k in range(3)],
            outputs=[shared[(i * 7) % 6], dataset(f"own{i}")],
            minutes=i % 13,
        )
        for i in range(400)
    ]
    token = store.tokens["producer"]

    async def main() -> list[Ingested]:
        tasks = [
            asyncio.ensure_future(writers[i % 2].submit(token, prepare_event(e)))
            for i, e in enumerate(events)
        ]
        return await asyncio.gather(*tasks)

    try:
        results = asyncio.run(main())
    finally:
        for w, c in zip(writers, connections, strict=True):
            w.stop()
            c.close()
    assert all(not r.duplicate for r in results)
    assert [w.retried_groups for w in writers] == [0, 0]
    assert all(w.groups >= 1 for w in writers)
    assert store.scalar("SELECT count(*) FROM lineage_events") == 400
    with store.sessions() as s:
        assert verify_chain(s).intact


# --- over HTTP, against a real uvicorn ------------------------------------------------------


def test_concurrent_clients_over_http_get_201s_and_an_intact_audit_chain(
    store: Store, committed_db: str, tmp_path: Path
) -> None:
    app = create_app(Settings(data_dir=tmp_path / "data"), database_url=committed_db)
    headers = {"Authorization": f"Bearer {store.tokens['producer']}"}
    events = [
        run_event(f"job{i}", inputs=[dataset(f"in{i % 7}")], outputs=[dataset(f"out{i}")])
        for i in range(120)
    ]
    statuses: list[int] = []

    def client(base: str, mine: list[dict[str, Any]]) -> None:
        with httpx.Client(base_url=base, headers=headers, timeout=30) as http:
            for event in mine:
                statuses.append(http.post("/api/v1/lineage", json=event).status_code)
                statuses.append(http.post("/api/v1/lineage", json=event).status_code)  # again

    with serve(app) as base:
        clients = [threading.Thread(target=client, args=(base, events[i::8])) for i in range(8)]
        for c in clients:
            c.start()
        for c in clients:
            c.join()
        with httpx.Client(base_url=base, headers=headers) as http:
            verify = http.get("/audit/verify").json()
    assert statuses == [201] * 240
    assert verify["intact"] is True
    assert store.scalar("SELECT count(*) FROM lineage_events") == 120
    assert audits(store) == 120
    assert store.scalar("SELECT count(*) FROM lineage_datasets") == 127  # 7 in, 120 out
