"""Every query of the audit trail: appending to the chain, scanning it, reading events.

Appends go through the psycopg connection under the session (pipelines, binary parameters);
the rest through the session. Hashing and judging live in `core.audit`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import psycopg
from sqlalchemy import Row, func, select, text
from sqlalchemy.orm import Session

# Only functions use the model, so this import cycle with core.audit resolves in either order.
from core import audit

# --- appending ----------------------------------------------------------------------------------

_LOCK_SQL = "SELECT pg_advisory_xact_lock(%s)"
_HEAD_SQL = "SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1"
_INSERT_SQL = (
    "INSERT INTO audit_events (seq, occurred_at, actor, action, object_type, object_id, "
    "payload, prev_hash, hash) SELECT * FROM unnest(%b::bigint[], %b::timestamptz[], "
    "%b::text[], %b::text[], %b::text[], %b::text[], %b::json[], %b::text[], %b::text[])"
)


def lock_and_read_head(session: Session, lock_key: int) -> psycopg.Cursor[Any]:
    """Ask for the advisory lock `lock_key`, then read the head; fetch it from the cursor.

    The read is a statement of its own, so its snapshot is taken once the lock is held.
    """
    raw = _driver(session)
    raw.execute(_LOCK_SQL, (lock_key,))
    return raw.execute(_HEAD_SQL)


def pipeline(session: Session) -> AbstractContextManager[Any]:
    """A psycopg pipeline on the session's connection: statements go out without waiting."""
    return _driver(session).pipeline()


def insert_events(session: Session, columns: Sequence[list[Any]]) -> None:
    """One INSERT of the events given column by column, in `audit_events` column order."""
    # Binary parameters: psycopg's text arrays escape every quote of the JSON with a regex.
    _driver(session).execute(_INSERT_SQL, columns)


def _driver(session: Session) -> psycopg.Connection[Any]:
    raw = session.connection().connection.driver_connection
    assert isinstance(raw, psycopg.Connection)  # the only driver driftgate uses
    return raw


# --- scanning -----------------------------------------------------------------------------------

# The canonical body of `event_hash`, rebuilt in SQL from the stored row: keys in sorted
# order, strings escaped by to_json (as Python escapes them with ensure_ascii=False), the
# time as isoformat(timespec="microseconds") in UTC, and the payload's stored text.
_BODY_SQL = """
'{"action":' || to_json(action)::text || ',"actor":' || to_json(actor)::text
|| ',"object_id":' || to_json(object_id)::text || ',"object_type":' || to_json(object_type)::text
|| ',"occurred_at":"' || to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US')
|| '+00:00","payload":' || payload::text || ',"seq":' || seq::text || '}'
"""
_LINKS_SQL = """
SELECT seq, p_seq FROM (
    SELECT seq, prev_hash, lag(seq) OVER w AS p_seq, lag(hash) OVER w AS p_hash
    FROM audit_events WHERE seq > :after AND seq <= :upto
    WINDOW w AS (ORDER BY seq)
) AS chain
WHERE prev_hash <> coalesce(p_hash, :prev) OR seq <> coalesce(p_seq, :after) + 1
ORDER BY seq
LIMIT 1
"""
_SUSPECTS_SQL = f"""
SELECT seq FROM audit_events
WHERE seq > :after AND seq < :stop
  AND encode(sha256(convert_to(prev_hash || {_BODY_SQL}, 'UTF8')), 'hex') <> hash
"""
_ROWS_SQL = """
SELECT seq, occurred_at, actor, action, object_type, object_id, payload::text AS payload_text,
       prev_hash, hash
FROM audit_events WHERE seq = ANY(:seqs) ORDER BY seq
"""
# The planner, not knowing that sha256() is dear, would not split the hash pass over parallel
# workers; JIT compiling the long body buys nothing measurable (docs/benchmarks.md).
_SCAN_PLANNER = {"jit": "off", "parallel_setup_cost": "0", "parallel_tuple_cost": "0"}


def head_between(session: Session, after_seq: int, upto: int) -> Row[Any] | None:
    """(seq, hash) of the newest event in `(after_seq, upto]`, or None."""
    return session.execute(
        text(
            "SELECT seq, hash FROM audit_events WHERE seq > :s AND seq <= :upto "
            "ORDER BY seq DESC LIMIT 1"
        ),
        {"s": after_seq, "upto": upto},
    ).first()


def scan_planner(session: Session) -> AbstractContextManager[None]:
    """The planner settings the scan queries below are tuned for, for the statements inside."""
    return _planner(session, **_SCAN_PLANNER)


def first_broken_link(session: Session, *, after: int, upto: int, prev: str) -> Row[Any] | None:
    """(seq, p_seq) of the first event in `(after, upto]` whose seq or prev_hash does not
    follow the event before it (`after`, whose hash is `prev`, for the first), or None."""
    return session.execute(text(_LINKS_SQL), {"after": after, "upto": upto, "prev": prev}).first()


def hash_suspects(session: Session, *, after: int, stop: int) -> list[int]:
    """Events in `(after, stop)` whose hash the SQL rebuild of its text does not give, unordered."""
    return list(session.scalars(text(_SUSPECTS_SQL), {"after": after, "stop": stop}))


def events_as_stored(session: Session, seqs: Sequence[int]) -> Iterator[Row[Any]]:
    """The events `seqs` in order, the payload as its stored text (`payload_text`)."""
    return iter(session.execute(text(_ROWS_SQL), {"seqs": seqs}))


@contextmanager
def _planner(session: Session, **settings: str) -> Iterator[None]:
    """Set planner settings for the statements inside, then put the caller's back."""
    names = list(settings)
    before = session.execute(
        text("SELECT " + ", ".join(f"current_setting(:n{i})" for i in range(len(names)))),
        {f"n{i}": name for i, name in enumerate(names)},
    ).one()
    _set_local(session, settings)
    yield  # on an error the caller's rollback restores them: they are transaction-local
    _set_local(session, dict(zip(names, before, strict=True)))


def _set_local(session: Session, settings: Mapping[str, str]) -> None:
    calls = ", ".join(f"set_config(:n{i}, :v{i}, true)" for i in range(len(settings)))
    params: dict[str, str] = {}
    for i, (name, value) in enumerate(settings.items()):
        params |= {f"n{i}": name, f"v{i}": value}
    session.execute(text(f"SELECT {calls}"), params)


# --- checkpoints --------------------------------------------------------------------------------


def head_seq(session: Session) -> int:
    """The newest event's sequence number (0: none)."""
    return session.scalar(text("SELECT coalesce(max(seq), 0) FROM audit_events")) or 0


def events_up_to(session: Session, seq: int) -> int:
    """How many events have a sequence number up to `seq` (`seq` when none was deleted)."""
    return (
        session.scalar(text("SELECT count(*) FROM audit_events WHERE seq <= :s"), {"s": seq}) or 0
    )


def stored_hashes(session: Session, seqs: Sequence[int]) -> dict[int, str]:
    """The stored hash of each of `seqs` that exists."""
    if not seqs:
        return {}
    rows = session.execute(
        text("SELECT seq, hash FROM audit_events WHERE seq = ANY(:seqs)"), {"seqs": list(seqs)}
    )
    return {row.seq: row.hash for row in rows}


def try_lock(session: Session, lock_key: int) -> bool:
    """Take the transaction-scoped advisory lock `lock_key` if it is free."""
    return bool(session.scalar(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": lock_key}))


def database_name(session: Session) -> str:
    return session.scalar(text("SELECT current_database()")) or ""


# --- reading events -----------------------------------------------------------------------------


def count_events(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(audit.AuditEvent)) or 0


def chain_head(session: Session) -> tuple[int, str] | None:
    """(seq, hash) of the newest event, or None for an empty chain."""
    AuditEvent = audit.AuditEvent
    head = session.execute(
        select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)
    ).first()
    return (head[0], head[1]) if head else None


def list_events(
    session: Session,
    *,
    after_seq: int,
    object_ref: str | None,
    action: str | None,
    actor: str | None,
    limit: int,
) -> list[audit.AuditEvent]:
    """Events after `after_seq` in chain order; `object_ref` is `type:id`, or an id or type."""
    AuditEvent = audit.AuditEvent
    stmt = select(AuditEvent).where(AuditEvent.seq > after_seq)
    if object_ref:
        kind, sep, ident = object_ref.partition(":")
        if sep:
            stmt = stmt.where(AuditEvent.object_type == kind, AuditEvent.object_id == ident)
        else:
            stmt = stmt.where(
                (AuditEvent.object_id == object_ref) | (AuditEvent.object_type == object_ref)
            )
    if action:
        stmt = stmt.where(AuditEvent.action == action)
    if actor:
        stmt = stmt.where(AuditEvent.actor == actor)
    return list(session.scalars(stmt.order_by(AuditEvent.seq).limit(limit)))


def model_audit_events(
    session: Session, name: str, object_ids: list[str], *, limit: int
) -> list[audit.AuditEvent]:
    """Audit events about the model, its versions, its requests and its incidents, in order."""
    stmt = (
        select(audit.AuditEvent)
        .where(
            ((audit.AuditEvent.object_type == "model") & (audit.AuditEvent.object_id == name))
            | (
                (audit.AuditEvent.object_type == "model")
                & audit.AuditEvent.object_id.startswith(f"{name}:", autoescape=True)
            )
            | (
                audit.AuditEvent.object_type.in_(("promotion_request", "incident"))
                & audit.AuditEvent.object_id.in_(object_ids)
            )
        )
        .order_by(audit.AuditEvent.seq)
        .limit(limit)
    )
    return list(session.scalars(stmt))


def latest_model_event(session: Session, name: str, action: str) -> audit.AuditEvent | None:
    """The newest audit event of this action about the model itself."""
    return session.scalar(
        select(audit.AuditEvent)
        .where(
            audit.AuditEvent.action == action,
            audit.AuditEvent.object_type == "model",
            audit.AuditEvent.object_id == name,
        )
        .order_by(audit.AuditEvent.seq.desc())
        .limit(1)
    )
