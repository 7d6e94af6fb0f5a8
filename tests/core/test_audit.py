"""The audit trail is append-only and hash-chained; tampering is found, forks are impossible."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from core import audit, audit_repository


def _record(session: Session, n: int, actor: str = "tester") -> None:
    for i in range(n):
        audit.record(
            session,
            actor=actor,
            action="thing.change",
            object_type="thing",
            object_id=str(i),
            before={"v": i},
            after={"v": i + 1, "note": "ünïcode ✓", "f": 0.1, "neg": -0.0},
        )


def test_chain_of_fresh_events_verifies_intact(db: Session) -> None:
    _record(db, 5)
    verdict = audit.verify_chain(db)
    assert verdict.intact and verdict.events_checked >= 5 and verdict.first_broken_seq is None


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_events SET actor = 'mallory'",
        "DELETE FROM audit_events",
        "TRUNCATE audit_events",
    ],
)
def test_trigger_rejects_update_delete_and_truncate_even_for_the_owner(
    db: Session, statement: str
) -> None:
    _record(db, 2)
    db.flush()
    with pytest.raises(DBAPIError, match="append-only"), db.begin_nested():
        db.execute(text(statement))


def test_tampering_is_reported_at_the_first_broken_sequence_number(db: Session) -> None:
    _record(db, 6)
    db.flush()
    target = db.execute(text("SELECT max(seq) - 3 FROM audit_events")).scalar_one()
    # The table owner can only tamper by disabling the trigger first (DDL is transactional).
    db.execute(text("ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update_delete"))
    db.execute(
        text('UPDATE audit_events SET payload = \'{"after": "forged"}\' WHERE seq = :s'),
        {"s": target},
    )
    db.execute(text("ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_update_delete"))
    verdict = audit.verify_chain(db)
    assert not verdict.intact
    assert verdict.first_broken_seq == target
    assert "hash" in (verdict.reason or "")


def test_a_deleted_event_is_reported_as_a_gap(db: Session) -> None:
    _record(db, 4)
    db.flush()
    target = db.execute(text("SELECT max(seq) - 1 FROM audit_events")).scalar_one()
    db.execute(text("ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update_delete"))
    db.execute(text("DELETE FROM audit_events WHERE seq = :s"), {"s": target})
    db.execute(text("ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_update_delete"))
    verdict = audit.verify_chain(db)
    assert not verdict.intact and verdict.first_broken_seq == target


def test_concurrent_writers_do_not_fork_the_chain(committed_db: str) -> None:
    engine = create_engine(committed_db, pool_size=10)
    factory = sessionmaker(bind=engine)
    errors: list[BaseException] = []

    def writer(k: int) -> None:
        try:
            for _ in range(10):
                with factory.begin() as s:
                    _record(s, 1, actor=f"writer-{k}")
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with factory() as s:
        seqs = [r[0] for r in s.execute(text("SELECT seq FROM audit_events ORDER BY seq"))]
        prevs = s.execute(
            text("SELECT count(DISTINCT prev_hash), count(*) FROM audit_events")
        ).one()
        verdict = audit.verify_chain(s)
    engine.dispose()
    assert seqs == list(range(1, 81))
    assert prevs[0] == prevs[1] == 80  # every event has its own predecessor: no fork
    assert verdict.intact and verdict.events_checked == 80


def test_a_rolled_back_mutation_leaves_no_audit_event(db: Session) -> None:
    before = audit_repository.count_events(db)
    with db.begin_nested() as nested:
        _record(db, 1)
        nested.rollback()
    assert audit_repository.count_events(db) == before


# --- record_many: several events under one acquisition of the chain lock ---------------------


def _entries(n: int, actor: str = "writer") -> list[audit.AuditEntry]:
    return [
        audit.AuditEntry(
            actor=actor,
            action="thing.ingest",
            object_type="thing",
            object_id=f"{actor}-{i}",
            after={"i": i, "note": "ünïcode ✓", "f": 0.1, "nan": float("nan")},
            details={"batch": "b1"},
        )
        for i in range(n)
    ]


def test_record_many_appends_chained_events_that_verify_like_record(db: Session) -> None:
    _record(db, 2)
    seqs = audit.record_many(db, _entries(5))
    _record(db, 1)
    assert seqs == list(range(seqs[0], seqs[0] + 5))
    rows = db.execute(
        text("SELECT seq, object_id, payload, prev_hash, hash FROM audit_events ORDER BY seq")
    ).all()
    by_seq = {r.seq: r for r in rows}
    for seq in seqs:  # each links to the one before it, whoever wrote that one
        assert by_seq[seq].prev_hash == by_seq[seq - 1].hash
    assert by_seq[seqs[0]].payload["after"]["nan"] == "nan"  # made JSON-safe, as record does
    assert by_seq[seqs[-1] + 1].prev_hash == by_seq[seqs[-1]].hash
    verdict = audit.verify_chain(db)
    assert verdict.intact and verdict.events_checked == len(rows)


def test_record_many_of_nothing_writes_nothing(db: Session) -> None:
    before = audit_repository.count_events(db)
    assert audit.record_many(db, []) == []
    assert audit_repository.count_events(db) == before


def test_record_many_events_are_caught_when_tampered_with(db: Session) -> None:
    seqs = audit.record_many(db, _entries(3))
    db.execute(text("ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update_delete"))
    db.execute(text("UPDATE audit_events SET actor = 'mallory' WHERE seq = :s"), {"s": seqs[1]})
    db.execute(text("ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_update_delete"))
    verdict = audit.verify_chain(db)
    assert not verdict.intact and verdict.first_broken_seq == seqs[1]


def test_concurrent_record_and_record_many_writers_do_not_fork_the_chain(
    committed_db: str,
) -> None:
    engine = create_engine(committed_db, pool_size=10)
    factory = sessionmaker(bind=engine)
    errors: list[BaseException] = []

    def single(k: int) -> None:
        try:
            for _ in range(10):
                with factory.begin() as s:
                    _record(s, 1, actor=f"single-{k}")
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    def grouped(k: int) -> None:
        try:
            for _ in range(10):
                with factory.begin() as s:
                    audit.record_many(s, _entries(4, actor=f"group-{k}"))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=single, args=(k,)) for k in range(4)]
    threads += [threading.Thread(target=grouped, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with factory() as s:
        seqs = [r[0] for r in s.execute(text("SELECT seq FROM audit_events ORDER BY seq"))]
        prevs = s.execute(
            text("SELECT count(DISTINCT prev_hash), count(*) FROM audit_events")
        ).one()
        verdict = audit.verify_chain(s)
    engine.dispose()
    total = 4 * 10 + 4 * 10 * 4
    assert seqs == list(range(1, total + 1))
    assert prevs[0] == prevs[1] == total
    assert verdict.intact and verdict.events_checked == total


def test_a_rolled_back_record_many_leaves_no_audit_event(db: Session) -> None:
    before = audit_repository.count_events(db)
    with db.begin_nested() as nested:
        audit.record_many(db, _entries(3))
        nested.rollback()
    assert audit_repository.count_events(db) == before
    assert audit.verify_chain(db).intact


# --- the SQL scan: hashes rebuilt in PostgreSQL, only suspects rechecked in Python --------------

_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=20
)
_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3),
    max_leaves=8,
)


def _suspects(session: Session, after: int) -> list[int]:
    return audit_repository.hash_suspects(session, after=after, stop=2**62)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(actor=_TEXT, object_id=_TEXT, after=_JSON, many=st.booleans())
def test_events_written_now_verify_in_sql_without_falling_back_to_python(
    db: Session, actor: str, object_id: str, after: object, many: bool
) -> None:
    """The SQL rebuild of the hashed text equals Python's for any strings and payload."""
    before = db.scalar(text("SELECT coalesce(max(seq), 0) FROM audit_events")) or 0
    if many:
        audit.record_many(
            db, [audit.AuditEntry(actor or "a", "x.y", "thing", object_id, after=after)]
        )
    else:
        audit.record(
            db,
            actor=actor or "a",
            action="x.y",
            object_type="thing",
            object_id=object_id,
            after=after,
        )
    assert _suspects(db, before) == []
    assert (
        audit.scan_chain(db, after_seq=before, prev_hash=_hash_at(db, before)).first_broken_seq
        is None
    )


def _hash_at(session: Session, seq: int) -> str:
    if seq == 0:
        return audit.GENESIS_HASH
    return session.scalar(text("SELECT hash FROM audit_events WHERE seq = :s"), {"s": seq}) or ""


def _insert_old_text_event(session: Session, payload: dict[str, object]) -> int:
    """An event as writers stored it before 2026-12-07: json.dumps' default text."""
    last = session.execute(
        text("SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1")
    ).first()
    seq, prev = (last[0] + 1, last[1]) if last else (1, audit.GENESIS_HASH)
    at = datetime(2026, 11, 30, 12, 0, 0, 123456, tzinfo=UTC)
    digest = audit.event_hash(
        prev,
        seq=seq,
        occurred_at=at,
        actor="old",
        action="x.y",
        object_type="thing",
        object_id="o",
        payload=payload,
    )
    session.execute(
        text("INSERT INTO audit_events VALUES (:s, :at, 'old', 'x.y', 'thing', 'o', :p, :ph, :h)"),
        {"s": seq, "at": at, "p": json.dumps(payload), "ph": prev, "h": digest},
    )
    return seq


def test_events_stored_in_the_old_text_verify_through_the_python_check(db: Session) -> None:
    _record(db, 1)
    old = _insert_old_text_event(db, {"z": 1, "a": "ünï", "f": 0.1})
    _record(db, 1)
    assert _suspects(db, 0) == [old]  # the SQL rebuild cannot vouch for it ...
    assert audit.verify_chain(db).intact  # ... the exact check can


def test_tampering_with_an_old_text_event_is_still_found(db: Session) -> None:
    _record(db, 1)
    old = _insert_old_text_event(db, {"z": 1, "a": "b"})
    _record(db, 1)
    db.execute(text("ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update_delete"))
    db.execute(
        text("""UPDATE audit_events SET payload = '{"z": 2, "a": "b"}' WHERE seq = :s"""),
        {"s": old},
    )
    verdict = audit.verify_chain(db)
    assert not verdict.intact and verdict.first_broken_seq == old


def test_a_scan_from_a_checkpoint_checks_only_the_events_after_it(db: Session) -> None:
    _record(db, 3)
    mid = db.scalar(text("SELECT max(seq) FROM audit_events")) or 0
    _record(db, 2)
    scan = audit.scan_chain(db, after_seq=mid, prev_hash=_hash_at(db, mid))
    assert scan.first_broken_seq is None and scan.events_checked == 2
    wrong = audit.scan_chain(db, after_seq=mid, prev_hash="e" * 64)
    assert wrong.first_broken_seq == mid + 1 and "prev_hash" in (wrong.reason or "")
