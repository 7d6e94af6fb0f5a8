"""Append-only, hash-chained audit trail; every mutation writes one event in its transaction."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg
from sqlalchemy import JSON, BigInteger, String, func, select, text
from sqlalchemy.orm import Mapped, Session, mapped_column

from core.clock import utcnow
from core.jsonsafe import jsonsafe
from core.models import Base

GENESIS_HASH = "0" * 64
# One advisory lock serializes chain appends so concurrent writers cannot fork the chain.
AUDIT_CHAIN_LOCK = 0x6472696674676174  # "driftgat"


class AuditEvent(Base):
    __tablename__ = "audit_events"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    occurred_at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(100))
    object_type: Mapped[str] = mapped_column(String(100))
    object_id: Mapped[str] = mapped_column(String(300))
    # JSON (not JSONB) keeps the exact text, so the hash can be recomputed byte for byte.
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def event_hash(
    prev_hash: str,
    *,
    seq: int,
    occurred_at: datetime,
    actor: str,
    action: str,
    object_type: str,
    object_id: str,
    payload: Any,
) -> str:
    """SHA-256 over the previous hash and the canonical form of the event."""
    body = canonical_json(
        {
            "seq": seq,
            "occurred_at": occurred_at.astimezone(UTC).isoformat(timespec="microseconds"),
            "actor": actor,
            "action": action,
            "object_type": object_type,
            "object_id": object_id,
            "payload": payload,
        }
    )
    return hashlib.sha256((prev_hash + body).encode("utf-8")).hexdigest()


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    object_type: str,
    object_id: str,
    before: Any = None,
    after: Any = None,
    **details: Any,
) -> AuditEvent:
    """Append one event to the chain inside the caller's transaction.

    Takes a transaction-scoped advisory lock, so call it as late as practical in a
    transaction: appends are serialized until the caller commits or rolls back.
    """
    session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": AUDIT_CHAIN_LOCK})
    last = session.execute(
        select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)
    ).first()
    seq, prev_hash = (last[0] + 1, last[1]) if last else (1, GENESIS_HASH)
    payload = jsonsafe({"before": before, "after": after, **details})
    occurred_at = utcnow().astimezone(UTC)
    event = AuditEvent(
        seq=seq,
        occurred_at=occurred_at,
        actor=actor,
        action=action,
        object_type=object_type,
        object_id=object_id,
        payload=payload,
        prev_hash=prev_hash,
        hash=event_hash(
            prev_hash,
            seq=seq,
            occurred_at=occurred_at,
            actor=actor,
            action=action,
            object_type=object_type,
            object_id=object_id,
            payload=payload,
        ),
    )
    session.add(event)
    session.flush()
    return event


@dataclass(frozen=True)
class AuditEntry:
    """One mutation for `record_many`: the same fields `record` takes."""

    actor: str
    action: str
    object_type: str
    object_id: str
    before: Any = None
    after: Any = None
    details: Mapping[str, Any] = field(default_factory=dict)


_LOCK_SQL = "SELECT pg_advisory_xact_lock(%s)"
_HEAD_SQL = "SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1"
_INSERT_SQL = (
    "INSERT INTO audit_events (seq, occurred_at, actor, action, object_type, object_id, "
    "payload, prev_hash, hash) SELECT * FROM unnest(%b::bigint[], %b::timestamptz[], "
    "%b::text[], %b::text[], %b::text[], %b::text[], %b::json[], %b::text[], %b::text[])"
)


def record_many(session: Session, entries: Sequence[AuditEntry]) -> list[int]:
    """Append several events, in order, under one acquisition of the chain lock.

    Each entry becomes its own chained event, hashed exactly as `record` hashes it, so
    `verify_chain` cannot tell the two apart. For writers that commit many mutations
    together (lineage group commit) this keeps the serialized part of a commit short: the
    lock and the read of the head go out in one pipeline (the read is a second statement, so
    its snapshot is taken once the lock is held), the rows in one more (one INSERT). Returns
    the sequence numbers given, in order.
    """
    if not entries:
        return []
    with _driver(session).pipeline():
        lock = lock_chain(session)
    return append_locked(session, lock, entries)


class ChainLock:
    """The chain lock, asked for by `lock_chain`, and the head it protects."""

    def __init__(self, head: psycopg.Cursor[Any]) -> None:
        self._head = head

    def head(self) -> tuple[int, str]:
        """(seq, hash) of the last event, or (0, GENESIS_HASH) for an empty chain."""
        last = self._head.fetchone()  # in a pipeline, this waits for the lock and the read
        return (last[0], last[1]) if last else (0, GENESIS_HASH)


def lock_chain(session: Session) -> ChainLock:
    """Ask for the chain lock and read the head, for `append_locked` later in the transaction.

    `record_many` in two steps, for a caller that pipelines its own statements with the lock
    (lineage ingest sends its write, the lock and the read of the head in one round trip).
    The lock is held until the transaction ends, so take it as late as practical.
    """
    raw = _driver(session)
    raw.execute(_LOCK_SQL, (AUDIT_CHAIN_LOCK,))
    # A statement of its own, so its snapshot is taken once the lock is held.
    return ChainLock(raw.execute(_HEAD_SQL))


def append_locked(session: Session, lock: ChainLock, entries: Sequence[AuditEntry]) -> list[int]:
    """Append entries after the head read under `lock`, as `record_many` does.

    One INSERT. In a pipeline it is only queued: an error surfaces at the caller's next sync
    (at the latest its commit). Returns the sequence numbers given, in order.
    """
    if not entries:
        return []
    seq, prev_hash = lock.head()
    occurred_at = utcnow().astimezone(UTC)
    rows = []
    for entry in entries:
        seq += 1
        payload = jsonsafe({"before": entry.before, "after": entry.after, **entry.details})
        digest = event_hash(
            prev_hash,
            seq=seq,
            occurred_at=occurred_at,
            actor=entry.actor,
            action=entry.action,
            object_type=entry.object_type,
            object_id=entry.object_id,
            payload=payload,
        )
        rows.append(
            (
                seq,
                occurred_at,
                entry.actor,
                entry.action,
                entry.object_type,
                entry.object_id,
                json.dumps(payload),  # the JSON column keeps this text; verify re-reads it
                prev_hash,
                digest,
            )
        )
        prev_hash = digest
    # Binary parameters: psycopg's text arrays escape every quote of the JSON with a regex.
    _driver(session).execute(_INSERT_SQL, [list(column) for column in zip(*rows, strict=True)])
    return [row[0] for row in rows]


def _driver(session: Session) -> psycopg.Connection[Any]:
    raw = session.connection().connection.driver_connection
    assert isinstance(raw, psycopg.Connection)  # the only driver driftgate uses
    return raw


@dataclass(frozen=True)
class ChainVerdict:
    intact: bool
    events_checked: int
    first_broken_seq: int | None
    reason: str | None
    head_hash: str | None


def verify_chain(session: Session, *, batch_size: int = 5000) -> ChainVerdict:
    """Recompute every hash in order; name the first sequence number that does not match."""
    prev_hash, expected_seq, checked = GENESIS_HASH, 1, 0
    last_seq = 0
    while True:
        rows = session.execute(
            select(*_CHAIN_COLUMNS)
            .where(AuditEvent.seq > last_seq)
            .order_by(AuditEvent.seq)
            .limit(batch_size)
        ).all()
        if not rows:
            break
        for ev in rows:
            problem = _check_event(ev, expected_seq, prev_hash)
            if problem:
                broken = expected_seq if ev.seq != expected_seq else ev.seq
                return ChainVerdict(False, checked, broken, problem, None)
            prev_hash, expected_seq, checked, last_seq = ev.hash, ev.seq + 1, checked + 1, ev.seq
    return ChainVerdict(True, checked, None, None, prev_hash if checked else None)


_CHAIN_COLUMNS = (
    AuditEvent.seq,
    AuditEvent.occurred_at,
    AuditEvent.actor,
    AuditEvent.action,
    AuditEvent.object_type,
    AuditEvent.object_id,
    AuditEvent.payload,
    AuditEvent.prev_hash,
    AuditEvent.hash,
)


def _check_event(ev: Any, expected_seq: int, prev_hash: str) -> str | None:
    if ev.seq != expected_seq:
        return f"sequence gap: expected {expected_seq}, found {ev.seq}"
    if ev.prev_hash != prev_hash:
        return "prev_hash does not match the previous event's hash"
    recomputed = event_hash(
        ev.prev_hash,
        seq=ev.seq,
        occurred_at=ev.occurred_at,
        actor=ev.actor,
        action=ev.action,
        object_type=ev.object_type,
        object_id=ev.object_id,
        payload=ev.payload,
    )
    if recomputed != ev.hash:
        return "hash does not match the event's contents"
    return None


def count_events(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(AuditEvent)) or 0
