"""The runner's own query: the lock that lets one runner evaluate at a time.

Each sub-domain's tables are queried in its own `repository.py` (drift, quality, slos, notify).
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session


def try_lock_evaluation(session: Session, key: int) -> bool:
    """Take the transaction-scoped evaluation lock, or say another runner holds it."""
    locked = session.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": key})
    return bool(locked.scalar_one())
