"""Append-only, hash-chained audit trail; every mutation writes one event in its transaction."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg
from sqlalchemy import JSON, BigInteger, String
from sqlalchemy.orm import Mapped, Session, mapped_column

from core import audit_repository as repository
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


# Built once: `json.dumps` with options builds a new encoder on every call.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_json(value: Any) -> str:
    """Sorted keys, no spaces, UTF-8 as is: the form events are hashed (and now stored) in."""
    return _CANONICAL.encode(value)


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

    Flushes the caller's pending changes first (as it always has), then appends as
    `record_many` does, so the payload is stored in its canonical text. Takes a
    transaction-scoped advisory lock, so call it as late as practical in a transaction:
    appends are serialized until the caller commits or rolls back. Returns the event as
    written (not attached to the session).
    """
    session.flush()
    entry = AuditEntry(actor, action, object_type, object_id, before, after, details)
    [row] = _append(session, lock_chain(session), [entry])
    return AuditEvent(**dict(zip(_ROW_FIELDS, row, strict=True)))


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
    with repository.pipeline(session):
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
    return ChainLock(repository.lock_and_read_head(session, AUDIT_CHAIN_LOCK))


def append_locked(session: Session, lock: ChainLock, entries: Sequence[AuditEntry]) -> list[int]:
    """Append entries after the head read under `lock`, as `record_many` does.

    One INSERT. In a pipeline it is only queued: an error surfaces at the caller's next sync
    (at the latest its commit). Returns the sequence numbers given, in order.
    """
    return [row[0] for row in _append(session, lock, entries)]


_ROW_FIELDS = (
    "seq",
    "occurred_at",
    "actor",
    "action",
    "object_type",
    "object_id",
    "payload",
    "prev_hash",
    "hash",
)


def _append(
    session: Session, lock: ChainLock, entries: Sequence[AuditEntry]
) -> list[tuple[Any, ...]]:
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
                payload,
                prev_hash,
                digest,
            )
        )
        prev_hash = digest
    # The JSON column keeps this text byte for byte: stored canonical, an event's hash can be
    # recomputed in SQL from the row as it is (see `scan_chain`).
    columns = [list(column) for column in zip(*rows, strict=True)]
    columns[6] = [canonical_json(payload) for payload in columns[6]]
    repository.insert_events(session, columns)
    return rows


@dataclass(frozen=True)
class ChainVerdict:
    intact: bool
    events_checked: int
    first_broken_seq: int | None
    reason: str | None
    head_hash: str | None


@dataclass(frozen=True)
class ChainScan:
    """What recomputing the chain over `(after_seq, head_seq]` found."""

    after_seq: int
    events_checked: int
    first_broken_seq: int | None
    reason: str | None
    head_seq: int  # the last event scanned (after_seq if none)
    head_hash: str  # its hash (the starting hash if none)


def verify_chain(session: Session) -> ChainVerdict:
    """Recompute every hash from the genesis; name the first sequence number that fails."""
    scan = scan_chain(session)
    return ChainVerdict(
        scan.first_broken_seq is None,
        scan.events_checked,
        scan.first_broken_seq,
        scan.reason,
        scan.head_hash if scan.first_broken_seq is None and scan.events_checked else None,
    )


def scan_chain(
    session: Session,
    *,
    after_seq: int = 0,
    prev_hash: str = GENESIS_HASH,
    upto: int | None = None,
    batch_size: int = 5_000,
) -> ChainScan:
    """Recompute the chain after `after_seq`, whose hash is `prev_hash`, up to `upto` or the head.

    Two passes in the server: sequence numbers and links in order
    (`audit_repository.first_broken_link`, a window over narrow columns), then every event's
    hash rebuilt from its row as stored (`audit_repository.hash_suspects`, no order, so
    PostgreSQL may run it in parallel), returning only the events it cannot vouch for. Those
    are judged again here with the exact rule (`_first_exact_failure`): an event written before
    payloads were stored canonically fails the SQL form but passes this one. A match in SQL is
    proof on its own: the hash covers the exact text the SQL rebuilt.
    """
    # The head first: events appended while the scan runs are left to the next one.
    head = repository.head_between(session, after_seq, upto if upto is not None else 2**63 - 1)
    if head is None:
        return ChainScan(after_seq, 0, None, None, after_seq, prev_hash)
    with repository.scan_planner(session):
        link = repository.first_broken_link(session, after=after_seq, upto=head.seq, prev=prev_hash)
        broken = _link_problem(link, after_seq, prev_hash) if link else None
        stop = broken[0] if broken else head.seq + 1
        suspects = sorted(repository.hash_suspects(session, after=after_seq, stop=stop))
    failed = _first_exact_failure(session, suspects, batch_size)
    if failed is not None:
        broken = (failed, "hash does not match the event's contents")
    if broken:
        return ChainScan(after_seq, broken[0] - after_seq - 1, broken[0], broken[1], 0, "")
    return ChainScan(after_seq, head.seq - after_seq, None, None, head.seq, head.hash)


def _link_problem(row: Any, after_seq: int, prev_hash: str) -> tuple[int, str]:
    """(first broken seq, why) for the first event whose seq or prev_hash does not follow."""
    expected = (after_seq if row.p_seq is None else row.p_seq) + 1
    if row.seq != expected:
        return expected, f"sequence gap: expected {expected}, found {row.seq}"
    return row.seq, "prev_hash does not match the previous event's hash"


def _first_exact_failure(session: Session, seqs: Sequence[int], batch_size: int) -> int | None:
    """The first of `seqs` (sorted) whose hash fails the exact rule, reading rows in batches."""
    for offset in range(0, len(seqs), batch_size):
        for row in repository.events_as_stored(session, seqs[offset : offset + batch_size]):
            if not _exact_hash_holds(row):
                return int(row.seq)
    return None


def _exact_hash_holds(row: Any) -> bool:
    recomputed = event_hash(
        row.prev_hash,
        seq=row.seq,
        occurred_at=row.occurred_at,
        actor=row.actor,
        action=row.action,
        object_type=row.object_type,
        object_id=row.object_id,
        payload=json.loads(row.payload_text),
    )
    return bool(recomputed == row.hash)


def list_events(
    session: Session,
    *,
    after_seq: int = 0,
    object_ref: str | None = None,
    action: str | None = None,
    actor: str | None = None,
    limit: int = 100,
) -> list[AuditEvent]:
    """Events after `after_seq` in chain order; `object_ref` is `type:id`, or an id or type."""
    return repository.list_events(
        session, after_seq=after_seq, object_ref=object_ref, action=action, actor=actor, limit=limit
    )
