"""Audit chain verification speed: the SQL scan and checkpoints next to the per-row Python loop.

Seeds N chained audit events (binary COPY into a scratch database, hashed exactly as
`core.audit` hashes them, payloads stored in canonical text as writers now store them) and
times, on the same rows:
- naive: the verify of 2026-11-23 (ORM batches of 5,000, every hash recomputed in Python
  from the parsed payload), kept here as the reference;
- python-stream: a server-side cursor streaming the rows (time formatted and payload as
  stored text), each hash rebuilt in Python with hashlib from the stored text;
- sql: `core.audit.scan_chain`, the hashes recomputed in PostgreSQL with sha256() and only
  suspect rows returned (the product's full verify);
- incremental: `core.audit_trail.verify_trail` from the latest signed checkpoint, with
  `--tail` events appended after it (the product's default verify).
Optionally (`--legacy N`) the SQL scan over N events stored in the old, non-canonical text,
each of which falls back to the Python check.

    .venv/bin/python bench/bench_audit.py --events 1000000 [--repeat 3] [--skip-naive]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.scratch import scratch_database
from core.audit import GENESIS_HASH, canonical_json, event_hash

T0 = datetime(2026, 1, 1, tzinfo=UTC)
ACTIONS = ("batch.submit", "contract.register", "token.create", "promotion.request.approved")


def payload_of(i: int) -> dict[str, Any]:
    """A payload of the size real events have (a batch submit: ~300 bytes of JSON)."""
    return {
        "before": None,
        "after": {
            "id": f"b-{i:09d}",
            "contract": f"orders-{i % 50}",
            "version": f"1.{i % 7}.0",
            "status": "accepted" if i % 10 else "quarantined",
            "rows_received": 1000 + i % 997,
            "rows_quarantined": i % 13,
            "ratio": (i % 1000) / 7,
            "note": "ünïcode ✓" if i % 100 == 0 else "ok",
        },
        "idempotency_key": None,
    }


def seed(
    url: str, n: int, *, start: int = 1, prev: str = GENESIS_HASH, legacy: bool = False
) -> str:
    """Append n chained events after `start - 1` with one COPY; return the new head hash."""
    import psycopg
    from sqlalchemy.engine import make_url

    libpq = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    columns = "seq, occurred_at, actor, action, object_type, object_id, payload, prev_hash, hash"
    with psycopg.connect(libpq) as conn, conn.cursor() as cur:
        with cur.copy(f"COPY audit_events ({columns}) FROM STDIN") as copy:
            for seq in range(start, start + n):
                at = T0 + timedelta(seconds=seq)
                action = ACTIONS[seq % len(ACTIONS)]
                payload = payload_of(seq)
                actor = f"producer-{seq % 17}"
                digest = event_hash(
                    prev,
                    seq=seq,
                    occurred_at=at,
                    actor=actor,
                    action=action,
                    object_type=action.split(".")[0],
                    object_id=f"b-{seq:09d}",
                    payload=payload,
                )
                stored = json.dumps(payload) if legacy else canonical_json(payload)
                kind, oid = action.split(".")[0], f"b-{seq:09d}"
                copy.write_row((seq, at, actor, action, kind, oid, stored, prev, digest))
                prev = digest
        conn.commit()
    return prev


def naive_verify(session: Any, batch_size: int = 5000) -> tuple[bool, int]:
    """The verify of 2026-11-23: ORM rows in batches, every hash recomputed in Python."""
    from sqlalchemy import select

    from core.audit import AuditEvent

    columns = (
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
    prev_hash, expected, checked, last = GENESIS_HASH, 1, 0, 0
    while True:
        rows = session.execute(
            select(*columns).where(AuditEvent.seq > last).order_by(AuditEvent.seq).limit(batch_size)
        ).all()
        if not rows:
            return True, checked
        for ev in rows:
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
            if ev.seq != expected or ev.prev_hash != prev_hash or recomputed != ev.hash:
                return False, checked
            prev_hash, expected, checked, last = ev.hash, ev.seq + 1, checked + 1, ev.seq


_STREAM_SQL = """
SELECT seq, to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'),
       actor, action, object_type, object_id, payload::text, prev_hash, hash
FROM audit_events ORDER BY seq
"""


def python_stream_verify(session: Any) -> tuple[bool, int]:
    """Rows streamed by a server-side cursor; each hash rebuilt with hashlib from stored text."""
    import hashlib

    enc = json.JSONEncoder(ensure_ascii=False).encode  # a str alone encodes as JSON string
    sha = hashlib.sha256
    raw = session.connection().connection.driver_connection
    prev, expected, checked = GENESIS_HASH, 1, 0
    with raw.cursor(name=f"audit_stream_{uuid.uuid4().hex[:6]}") as cur:
        cur.itersize = 20_000
        cur.execute(_STREAM_SQL)
        for seq, at, actor, action, otype, oid, ptext, prev_hash, digest in cur:
            body = (
                f'{{"action":{enc(action)},"actor":{enc(actor)},"object_id":{enc(oid)},'
                f'"object_type":{enc(otype)},"occurred_at":"{at}+00:00","payload":{ptext},'
                f'"seq":{seq}}}'
            )
            ok = sha((prev_hash + body).encode()).hexdigest() == digest
            if not ok:  # stored in the old text: canonicalize and try again
                body = canonical_json(
                    {
                        "seq": seq,
                        "occurred_at": f"{at}+00:00",
                        "actor": actor,
                        "action": action,
                        "object_type": otype,
                        "object_id": oid,
                        "payload": json.loads(ptext),
                    }
                )
                ok = sha((prev_hash + body).encode()).hexdigest() == digest
            if seq != expected or prev_hash != prev or not ok:
                return False, checked
            prev, expected, checked = digest, seq + 1, checked + 1
    return True, checked


def sql_verify(session: Any) -> tuple[bool, int]:
    from core.audit import scan_chain

    scan = scan_chain(session)
    return scan.first_broken_seq is None, scan.events_checked


def timed(
    label: str, factory: Any, fn: Callable[[Any], tuple[bool, int]], repeat: int
) -> dict[str, Any]:
    times, result = [], (False, 0)
    for _ in range(repeat):
        with factory() as session:
            t = time.perf_counter()
            result = fn(session)
            times.append(time.perf_counter() - t)
            session.rollback()
    row = {"method": label, "intact": result[0], "events": result[1], "best_s": min(times)}
    row["all_s"] = [round(x, 3) for x in times]
    print(
        f"  {label:34} {min(times):8.3f} s  intact={result[0]} events={result[1]:,}  {row['all_s']}"
    )
    return row


def incremental_rows(
    url: str, factory: Any, n: int, tail: int, repeat: int
) -> list[dict[str, Any]]:
    """Checkpoint the chain, append `tail` events, verify from the checkpoint (and in full)."""
    from core.audit_trail import verify_trail, write_checkpoint
    from core.settings import Settings

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            database_url=url,
            data_dir=Path(tmp) / "data",
            audit_checkpoint_dir=Path(tmp) / "checkpoints",
            audit_checkpoint_key_file=Path(tmp) / "keys" / "checkpoint.key",
        )
        with factory() as session:
            t = time.perf_counter()
            outcome = write_checkpoint(session, settings)
            took = time.perf_counter() - t
        print(f"  first checkpoint (full verify + sign + write) {took:.3f} s -> seq {outcome.seq}")
        with factory() as session:
            head = session.execute(_head()).one()
        seed(url, tail, start=head[0] + 1, prev=head[1])
        rows = [
            timed(
                f"incremental ({tail:,} after checkpoint)",
                factory,
                lambda s: _verdict(verify_trail(s, settings, full=False)),
                repeat,
            ),
            timed(
                "full + checkpoints",
                factory,
                lambda s: _verdict(verify_trail(s, settings, full=True)),
                repeat,
            ),
        ]
        with factory() as session:
            t = time.perf_counter()
            write_checkpoint(session, settings)
            took = time.perf_counter() - t
        print(f"  next checkpoint (incremental verify + sign + write) {took:.3f} s")
        rows.append({"method": "next checkpoint", "best_s": took})
    return rows


def _head() -> Any:
    from sqlalchemy import text

    return text("SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1")


def _verdict(v: Any) -> tuple[bool, int]:
    return v.intact, v.events_checked


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--tail", type=int, default=10_000, help="0 skips the checkpoint part.")
    parser.add_argument("--legacy", type=int, default=0, help="Old-text events to scan.")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-naive", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    from sqlalchemy import create_engine
    from sqlalchemy.orm import sessionmaker

    print(f"python {platform.python_version()}, load {os.getloadavg()}")
    results: list[dict[str, Any]] = []
    with scratch_database("driftgate_bench_audit") as url:
        t = time.perf_counter()
        seed(url, args.events)
        print(f"seeded {args.events:,} events in {time.perf_counter() - t:.1f} s")
        engine = create_engine(url)
        factory = sessionmaker(bind=engine)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE audit_events")  # hint bits set before timing
        if not args.skip_naive:
            results.append(timed("naive (2026-11-23 verify)", factory, naive_verify, 1))
        results.append(timed("python-stream (hashlib)", factory, python_stream_verify, args.repeat))
        results.append(timed("sql (sha256 in PostgreSQL)", factory, sql_verify, args.repeat))
        if args.tail:
            results += incremental_rows(url, factory, args.events, args.tail, args.repeat)
        engine.dispose()
    if args.legacy:
        with scratch_database("driftgate_bench_audit") as url:
            seed(url, args.legacy, legacy=True)
            engine = create_engine(url)
            factory = sessionmaker(bind=engine)
            results.append(timed(f"sql, {args.legacy:,} old-text events", factory, sql_verify, 1))
            engine.dispose()
    print(f"load after: {os.getloadavg()}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
