"""Tampering with the audit trail, as the table's owner or the service's role: found or refused.

The owner (the test connection is a superuser) can switch the append-only triggers off, so
these tests play the administrator who rewrites history; signed checkpoints kept outside the
database must catch what the chain alone cannot (a cut tail, a consistent rewrite). The
service's own role must not be able to tamper at all.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from core import audit, audit_trail
from core.checkpoints import new_key_text, parse_key, sign_checkpoint
from core.clock import utcnow
from core.db_roles import create_app_role, drop_app_role
from core.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
TRIGGERS = ("audit_events_no_update_delete", "audit_events_no_truncate")


@pytest.fixture
def trail(tmp_path: Path) -> Settings:
    return Settings(
        database_url=None,
        data_dir=tmp_path / "data",
        audit_checkpoint_dir=tmp_path / "checkpoints",
        audit_checkpoint_key_file=tmp_path / "keys" / "checkpoint.key",
        audit_checkpointer=False,
        monitor_runner=False,
        ranker_serving=False,
        governance_bake_guard=False,
    )


def _record(session: Session, n: int, actor: str = "tester") -> int:
    for i in range(n):
        audit.record(
            session,
            actor=actor,
            action="thing.change",
            object_type="thing",
            object_id=str(i),
            after={"v": i, "note": "ünïcode ✓"},
        )
    return _head(session)


def _head(session: Session) -> int:
    return session.scalar(text("SELECT coalesce(max(seq), 0) FROM audit_events")) or 0


def _as_owner(session: Session, statement: str, **params: Any) -> None:
    """What an administrator can do: switch the triggers off, tamper, switch them back on."""
    for trigger in TRIGGERS:
        session.execute(text(f"ALTER TABLE audit_events DISABLE TRIGGER {trigger}"))
    session.execute(text(statement), params)
    for trigger in TRIGGERS:
        session.execute(text(f"ALTER TABLE audit_events ENABLE ALWAYS TRIGGER {trigger}"))


def _rewrite_from(session: Session, seq: int) -> None:
    """Change event `seq` and recompute every hash after it: the chain alone still verifies."""
    rows = session.execute(
        text(
            "SELECT seq, occurred_at, actor, action, object_type, object_id, payload, prev_hash "
            "FROM audit_events WHERE seq >= :s ORDER BY seq"
        ),
        {"s": seq},
    ).all()
    prev = rows[0].prev_hash
    updates = []
    for row in rows:
        payload = {"after": "forged"} if row.seq == seq else row.payload
        digest = audit.event_hash(
            prev,
            seq=row.seq,
            occurred_at=row.occurred_at,
            actor=row.actor,
            action=row.action,
            object_type=row.object_type,
            object_id=row.object_id,
            payload=payload,
        )
        updates.append({"s": row.seq, "p": audit.canonical_json(payload), "ph": prev, "h": digest})
        prev = digest
    # Hashes are unique: park the old ones first so the new ones never collide mid-update.
    _as_owner(session, "UPDATE audit_events SET hash = 'x' || seq WHERE seq >= :s", s=seq)
    for trigger in TRIGGERS:
        session.execute(text(f"ALTER TABLE audit_events DISABLE TRIGGER {trigger}"))
    for u in updates:
        session.execute(
            text("UPDATE audit_events SET payload = :p, prev_hash = :ph, hash = :h WHERE seq = :s"),
            u,
        )
    for trigger in TRIGGERS:
        session.execute(text(f"ALTER TABLE audit_events ENABLE ALWAYS TRIGGER {trigger}"))


def _checkpoint(session: Session, settings: Settings) -> int:
    outcome = audit_trail.write_checkpoint(session, settings)
    assert outcome.written, outcome.detail
    return outcome.seq


# --- what the chain alone misses, checkpoints catch ---------------------------------------------


@pytest.mark.parametrize("full", [False, True])
def test_a_tail_cut_below_a_checkpoint_is_reported_as_truncation(
    db: Session, trail: Settings, full: bool
) -> None:
    signed = _checkpoint(db, trail) if _record(db, 8) else 0
    _as_owner(db, "DELETE FROM audit_events WHERE seq > :s", s=signed - 3)
    assert audit.verify_chain(db).intact  # the chain alone cannot tell
    verdict = audit_trail.verify_trail(db, trail, full=full)
    assert not verdict.intact
    assert verdict.first_broken_seq == signed - 2
    assert [f.kind for f in verdict.findings] == ["truncated"]


@pytest.mark.parametrize("full", [False, True])
def test_a_consistent_rewrite_is_placed_between_two_checkpoints(
    db: Session, trail: Settings, full: bool
) -> None:
    _record(db, 4)
    first = _checkpoint(db, trail)
    _record(db, 4)
    second = _checkpoint(db, trail)
    _record(db, 2)
    _rewrite_from(db, first + 2)
    assert audit.verify_chain(db).intact  # every hash recomputes: the rewrite is consistent
    verdict = audit_trail.verify_trail(db, trail, full=full)
    assert not verdict.intact
    assert verdict.first_broken_seq == first + 1
    assert verdict.findings[0].kind == "rewritten"
    assert f"{first + 1}..{second}" in (verdict.reason or "")


def test_a_rewrite_of_everything_from_the_first_event_is_caught(
    db: Session, trail: Settings
) -> None:
    _record(db, 3)
    _checkpoint(db, trail)
    _rewrite_from(db, 1)
    verdict = audit_trail.verify_trail(db, trail)
    assert not verdict.intact and verdict.first_broken_seq == 1
    assert verdict.mode == "full"  # no checkpoint agrees any more: recomputed from the start


def test_a_checkpoint_signed_with_another_key_is_reported_as_forged(
    db: Session, trail: Settings
) -> None:
    head = _record(db, 3)
    _checkpoint(db, trail)
    mallory = parse_key(new_key_text("ed25519"))
    forged = sign_checkpoint(
        mallory, seq=head + 50, head_hash="f" * 64, created_at=utcnow(), database="x"
    )
    audit_trail.write_file(audit_trail.checkpoint_dir(trail), forged)
    verdict = audit_trail.verify_trail(db, trail)
    assert not verdict.intact
    assert [(f.kind, f.seq) for f in verdict.findings] == [("forged", head + 50)]
    assert verdict.checkpoints_trusted == 1  # the forged one is not read as a truncation


def test_an_edited_checkpoint_file_is_reported_as_forged(db: Session, trail: Settings) -> None:
    _record(db, 3)
    _checkpoint(db, trail)
    [path] = audit_trail.checkpoint_dir(trail).glob("checkpoint-*.json")
    doc = json.loads(path.read_text())
    doc["seq"] -= 1  # "vouch" for less, to hide a cut tail
    path.write_text(json.dumps(doc))
    verdict = audit_trail.verify_trail(db, trail)
    assert not verdict.intact and verdict.findings[0].kind == "forged"


def test_checkpoints_without_their_key_cannot_vouch_for_anything(
    db: Session, trail: Settings
) -> None:
    _record(db, 2)
    _checkpoint(db, trail)
    audit_trail.key_file(trail).unlink()
    verdict = audit_trail.verify_trail(db, trail)
    assert not verdict.intact and "cannot be authenticated" in (verdict.reason or "")


@pytest.mark.parametrize("full", [False, True])
def test_a_deleted_event_below_the_checkpoint_is_found_in_either_mode(
    db: Session, trail: Settings, full: bool
) -> None:
    signed = _checkpoint(db, trail) if _record(db, 6) else 0
    _record(db, 2)
    _as_owner(db, "DELETE FROM audit_events WHERE seq = :s", s=signed - 2)
    verdict = audit_trail.verify_trail(db, trail, full=full)
    assert not verdict.intact and verdict.first_broken_seq == signed - 2
    assert verdict.findings[0].kind == "chain" and verdict.mode == "full"


def test_an_edit_in_place_below_the_checkpoint_needs_a_full_verify(
    db: Session, trail: Settings
) -> None:
    """The documented limit of incremental verify: a stale hash below the checkpoint."""
    signed = _checkpoint(db, trail) if _record(db, 5) else 0
    _as_owner(db, "UPDATE audit_events SET actor = 'mallory' WHERE seq = :s", s=signed - 1)
    assert audit_trail.verify_trail(db, trail).intact
    full = audit_trail.verify_trail(db, trail, full=True)
    assert not full.intact and full.first_broken_seq == signed - 1


def test_incremental_verify_recomputes_only_events_after_the_checkpoint(
    db: Session, trail: Settings
) -> None:
    signed = _checkpoint(db, trail) if _record(db, 5) else 0
    head = _record(db, 3)
    verdict = audit_trail.verify_trail(db, trail)
    assert verdict.intact and verdict.mode == "incremental"
    assert (verdict.from_seq, verdict.events_checked, verdict.head_seq) == (signed, 3, head)
    full = audit_trail.verify_trail(db, trail, full=True)
    assert full.intact and full.mode == "full" and full.events_checked == head
    assert full.head_hash == verdict.head_hash


def test_an_edit_after_the_checkpoint_is_found_incrementally(db: Session, trail: Settings) -> None:
    _record(db, 3)
    _checkpoint(db, trail)
    head = _record(db, 3)
    _as_owner(db, "UPDATE audit_events SET actor = 'mallory' WHERE seq = :s", s=head - 1)
    verdict = audit_trail.verify_trail(db, trail)
    assert not verdict.intact and verdict.first_broken_seq == head - 1
    assert verdict.mode == "incremental"


# --- writing checkpoints ------------------------------------------------------------------------


def test_no_checkpoint_is_signed_over_a_broken_chain(db: Session, trail: Settings) -> None:
    head = _record(db, 3)
    _as_owner(db, "UPDATE audit_events SET actor = 'mallory' WHERE seq = :s", s=head)
    with pytest.raises(audit_trail.AuditChainBroken, match=f"seq {head}"):
        audit_trail.write_checkpoint(db, trail)
    assert not list(audit_trail.checkpoint_dir(trail).glob("checkpoint-*"))


def test_a_checkpoint_is_written_only_when_the_head_moved(db: Session, trail: Settings) -> None:
    _record(db, 2)
    assert audit_trail.write_checkpoint(db, trail).written
    assert audit_trail.write_checkpoint(db, trail).detail == "head unchanged"
    _record(db, 1)
    assert audit_trail.write_checkpoint(db, trail).written
    assert len(list(audit_trail.checkpoint_dir(trail).glob("checkpoint-*.json"))) == 2


def test_the_key_is_created_on_first_use_readable_by_its_owner_only(
    db: Session, trail: Settings
) -> None:
    _record(db, 1)
    _checkpoint(db, trail)
    mode = audit_trail.key_file(trail).stat().st_mode & 0o777
    assert mode == 0o600
    with pytest.raises(FileExistsError):
        audit_trail.create_key(audit_trail.key_file(trail), "ed25519")


def test_a_checkpoint_file_is_synced_before_it_appears_under_its_name(
    db: Session, trail: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    _record(db, 1)
    calls: list[str] = []
    real_fsync, real_rename = os.fsync, os.rename
    monkeypatch.setattr(os, "fsync", lambda fd: (calls.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(os, "rename", lambda a, b: (calls.append("rename"), real_rename(a, b))[1])
    _checkpoint(db, trail)
    assert calls[-3:] == ["fsync", "rename", "fsync"]  # file, rename, directory


def test_a_crash_before_the_rename_leaves_no_checkpoint_only_a_tmp_file_ignored(
    db: Session, trail: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    _record(db, 1)
    audit_trail.load_or_create_key(trail)

    def crash(a: str, b: str) -> None:
        raise OSError("power cut")

    monkeypatch.setattr(os, "rename", crash)
    with pytest.raises(OSError, match="power cut"):
        audit_trail.write_checkpoint(db, trail)
    directory = audit_trail.checkpoint_dir(trail)
    assert [p.name.endswith(".tmp") for p in directory.iterdir()] == [True]
    assert audit_trail.load_checkpoints(directory, None) == []
    monkeypatch.undo()
    assert audit_trail.verify_trail(db, trail).intact


def test_the_scheduler_checkpoints_new_events_and_refuses_a_broken_chain(
    committed_db: str, trail: Settings
) -> None:
    engine = create_engine(committed_db)
    factory = sessionmaker(bind=engine)
    settings = trail.model_copy(update={"audit_checkpoint_interval_seconds": 0.2})
    scheduler = audit_trail.CheckpointScheduler(factory, settings)
    directory = audit_trail.checkpoint_dir(settings)
    try:
        with factory.begin() as s:
            first = _record(s, 3)
        scheduler.start()
        _wait_for(lambda: _checkpoint_seqs(directory) == [first])
        with factory.begin() as s:
            second = _record(s, 2)
        _wait_for(lambda: _checkpoint_seqs(directory) == [first, second])
        with factory.begin() as s:
            third = _record(s, 1)
            _as_owner(s, "UPDATE audit_events SET actor = 'mallory' WHERE seq = :s", s=third)
        _wait_for(lambda: scheduler.last_error is not None)
        assert f"seq {third}" in (scheduler.last_error or "")
        assert _checkpoint_seqs(directory) == [first, second]
    finally:
        scheduler.stop()
        engine.dispose()
    # This scheduler's thread (another test's live server in this worker may run its own).
    assert not scheduler.running


def _checkpoint_seqs(directory: Path) -> list[int]:
    return [int(p.name.split("-")[1]) for p in sorted(directory.glob("checkpoint-*.json"))]


def _wait_for(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


# --- the owner cannot slip past the triggers with session_replication_role -----------------------


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_events SET actor = 'mallory'",
        "DELETE FROM audit_events",
        "TRUNCATE audit_events",
    ],
)
def test_replica_mode_does_not_switch_the_append_only_triggers_off(
    db: Session, statement: str
) -> None:
    _record(db, 1)
    db.execute(text("SET LOCAL session_replication_role = replica"))
    with pytest.raises(DBAPIError, match="append-only"), db.begin_nested():
        db.execute(text(statement))


# --- the service's role -------------------------------------------------------------------------


def _libpq(url: str, **changes: Any) -> str:
    return make_url(url).set(drivername="postgresql", **changes).render_as_string(False)


@pytest.fixture
def app_role(database_url: str) -> Iterator[str]:
    """A service role for this test database: role names are cluster-wide, so it is unique."""
    name = f"{make_url(database_url).database}_app"
    with psycopg.connect(_libpq(database_url), autocommit=True) as conn:
        create_app_role(conn, name, "app-secret")
    yield name
    with psycopg.connect(_libpq(database_url), autocommit=True) as conn:
        drop_app_role(conn, name)


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_events SET actor = 'mallory'",
        "DELETE FROM audit_events",
        "TRUNCATE audit_events",
        "ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update_delete",
        "ALTER TABLE audit_events DISABLE TRIGGER ALL",
        "DROP TRIGGER audit_events_no_update_delete ON audit_events",
        "SET session_replication_role = replica",
        "SET LOCAL session_replication_role = replica",
        "CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger "
        "LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$",
        "DROP TABLE audit_events",
        "INSERT INTO alembic_version VALUES ('x')",
        "CREATE TABLE public.mine (x int)",
    ],
)
def test_the_service_role_cannot_tamper_with_the_audit_trail(
    database_url: str, app_role: str, statement: str
) -> None:
    role_url = _libpq(database_url, username=app_role, password="app-secret")
    with psycopg.connect(role_url) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(statement)


def test_the_service_role_can_do_its_work_and_append_to_the_trail(
    database_url: str, app_role: str, trail: Settings
) -> None:
    url = make_url(database_url).set(username=app_role, password="app-secret")
    engine = create_engine(url)
    try:
        with Session(engine) as s:
            assert not s.scalar(text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user"))
            head = _record(s, 2, actor="service")
            verdict = audit_trail.verify_trail(s, trail, full=True)
            assert verdict.intact and verdict.head_seq == head
            assert audit_trail.write_checkpoint(s, trail).written
            s.execute(text("CREATE TEMP TABLE scratch (x int)"))  # monitors use temp tables
            s.rollback()
    finally:
        engine.dispose()


def test_create_app_role_refuses_names_that_are_not_plain_identifiers(database_url: str) -> None:
    from core.db_roles import InvalidRoleName

    with psycopg.connect(_libpq(database_url)) as conn, pytest.raises(InvalidRoleName):
        create_app_role(conn, 'x"; DROP TABLE audit_events; --', None)


# --- over HTTP and on the command line ----------------------------------------------------------


@pytest.fixture
def trail_client(db: Session, database_url: str, trail: Settings):  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from api.app import create_app
    from core.http import _session

    app = create_app(trail, database_url=database_url)

    def test_session() -> Iterator[Session]:
        try:
            yield db
            db.commit()
        except BaseException:
            db.rollback()
            raise

    app.dependency_overrides[_session] = test_session
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def test_the_api_checkpoints_and_reports_a_cut_tail(
    db: Session, trail_client: Any, auth: Callable[[str], dict[str, str]]
) -> None:
    _record(db, 3)
    assert trail_client.post("/audit/checkpoints", headers=auth("viewer")).status_code == 403
    made = trail_client.post("/audit/checkpoints", headers=auth("admin"))
    assert made.status_code == 200 and made.json()["written"], made.text
    ok = trail_client.get("/audit/verify", headers=auth("viewer")).json()
    assert ok["intact"] and ok["mode"] == "incremental" and ok["checkpoints_trusted"] == 1
    assert trail_client.get("/audit/verify?full=true", headers=auth("viewer")).json()["mode"] == (
        "full"
    )
    signed = made.json()["seq"]
    _as_owner(db, "DELETE FROM audit_events WHERE seq > :s", s=signed - 1)
    bad = trail_client.get("/audit/verify", headers=auth("viewer")).json()
    assert not bad["intact"] and bad["first_broken_seq"] == signed
    assert bad["findings"][0]["kind"] == "truncated"
    refused = trail_client.post("/audit/checkpoints", headers=auth("admin"))
    assert refused.status_code == 409
    assert refused.headers["content-type"].startswith("application/problem+json")
    odd = trail_client.get("/audit/verify?full=maybe", headers=auth("viewer"))
    assert odd.status_code == 422 and "full" in odd.text


def _cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


@pytest.mark.slow  # child processes
def test_the_cli_checkpoints_verifies_and_makes_a_role_that_cannot_tamper(
    committed_db: str, tmp_path: Path
) -> None:
    base = {k: v for k, v in os.environ.items() if not k.startswith("DRIFTGATE_")}
    env = {
        **base,
        "DATABASE_URL": committed_db,
        "DRIFTGATE_DATA_DIR": str(tmp_path / "data"),
        "DRIFTGATE_AUDIT_CHECKPOINT_DIR": str(tmp_path / "checkpoints"),
        "DRIFTGATE_AUDIT_CHECKPOINT_KEY_FILE": str(tmp_path / "keys" / "k.key"),
    }
    assert _cli(["audit", "keygen", "--algorithm", "hmac-sha256"], env).returncode == 0
    assert _cli(["token", "create", "--role", "admin", "--name", "a"], env).returncode == 0
    made = _cli(["audit", "checkpoint"], env)
    assert made.returncode == 0 and "written" in made.stdout, made.stderr
    verify = _cli(["audit", "verify"], env)
    assert verify.returncode == 0 and json.loads(verify.stdout)["mode"] == "incremental"

    role = f"{make_url(committed_db).database}_svc"
    made = _cli(["db", "create-app-role", role], env)
    try:
        assert made.returncode == 0, made.stderr
        service_url = made.stdout.strip().splitlines()[-1]
        assert make_url(service_url).username == role
        denied = pytest.raises(psycopg.errors.InsufficientPrivilege)
        with psycopg.connect(_libpq(service_url)) as conn, denied:
            conn.execute("ALTER TABLE audit_events DISABLE TRIGGER ALL")
        bad = _cli(["db", "create-app-role", "Bad-Name"], env)
        assert bad.returncode == 2 and "must match" in bad.stderr

        with psycopg.connect(_libpq(committed_db), autocommit=True) as conn:
            conn.execute("ALTER TABLE audit_events DISABLE TRIGGER ALL")
            conn.execute("DELETE FROM audit_events")
        broken = _cli(["audit", "verify", "--full"], env)
        assert broken.returncode == 1 and json.loads(broken.stdout)["findings"][0]["kind"] == (
            "truncated"
        )
        assert _cli(["audit", "checkpoint"], env).returncode == 1
    finally:
        with psycopg.connect(_libpq(committed_db), autocommit=True) as conn:
            drop_app_role(conn, role)


def test_incremental_verify_reads_only_the_newest_checkpoints_full_reads_all(
    db: Session, trail: Settings
) -> None:
    settings = trail.model_copy(update={"audit_checkpoint_verify_newest": 1})
    _record(db, 2)
    _checkpoint(db, settings)
    _record(db, 2)
    newest = _checkpoint(db, settings)
    oldest = sorted(audit_trail.checkpoint_dir(settings).glob("checkpoint-*.json"))[0]
    oldest.write_text(oldest.read_text().replace('"seq": ', '"seq": 1'))
    assert audit_trail.verify_trail(db, settings).intact
    full = audit_trail.verify_trail(db, settings, full=True)
    assert not full.intact and full.findings[0].kind == "forged"
    # The newest checkpoint alone still catches a cut tail.
    _as_owner(db, "DELETE FROM audit_events WHERE seq = :s", s=newest)
    cut = audit_trail.verify_trail(db, settings)
    assert not cut.intact and cut.findings[0].kind == "truncated"


def test_a_second_writer_skips_while_the_first_holds_the_checkpoint_lock(
    committed_db: str, trail: Settings
) -> None:
    engine = create_engine(committed_db)
    try:
        with Session(engine) as first, Session(engine) as second:
            _record(first, 2)
            first.commit()
            assert audit_trail.write_checkpoint(first, trail).written  # lock held until commit
            busy = audit_trail.write_checkpoint(second, trail)
            assert not busy.written and busy.detail == "another writer is busy"
            first.commit()
            second.rollback()
            assert audit_trail.write_checkpoint(second, trail).detail == "head unchanged"
    finally:
        engine.dispose()


def test_checkpoints_taken_while_events_are_appended_all_verify(
    committed_db: str, trail: Settings
) -> None:
    """The signed (seq, hash) pair is one event's, however many commit during the verify."""
    engine = create_engine(committed_db, pool_size=4)
    factory = sessionmaker(bind=engine)
    stop = threading.Event()
    errors: list[BaseException] = []

    def append() -> None:
        try:
            while not stop.is_set():
                with factory.begin() as s:
                    audit.record_many(
                        s, [audit.AuditEntry("w", "x.y", "thing", str(i)) for i in range(5)]
                    )
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    with factory.begin() as s:
        _record(s, 3)
    writer = threading.Thread(target=append)
    writer.start()
    written = 0
    try:
        for _ in range(12):
            with factory.begin() as s:
                written += audit_trail.write_checkpoint(s, trail).written
    finally:
        stop.set()
        writer.join()
    assert not errors and written >= 2
    with factory() as s:
        verdict = audit_trail.verify_trail(s, trail, full=True)
    engine.dispose()
    assert verdict.intact, verdict.findings
    assert verdict.checkpoints_trusted == written
