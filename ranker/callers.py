"""Who is calling POST /rank, remembered for a few seconds.

The hot path cannot afford a database round trip per request just to read a token's role, so
a verified token's principal is kept in memory for `ranker_auth_cache_seconds`; a revoked
token therefore keeps ranking for at most that long. Every other route checks the database.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from threading import Lock

from sqlalchemy.orm import Session

from core.auth import Principal, authenticate, hash_token


class CallerCache:
    def __init__(self, ttl_seconds: float, max_entries: int = 10_000) -> None:
        self.ttl = ttl_seconds
        self.max_entries = max_entries
        self._entries: dict[str, tuple[Principal, float]] = {}
        self._lock = Lock()

    def resolve(self, raw_token: str, sessions: Callable[[], Session]) -> Principal:
        """The token's principal: from memory while fresh, else from the database (401s raise)."""
        key = hash_token(raw_token)
        now = time.monotonic()
        hit = self._entries.get(key)
        if hit is not None and hit[1] > now:
            return hit[0]
        with sessions() as session:
            principal = authenticate(session, raw_token)
        if self.ttl > 0:
            with self._lock:
                if len(self._entries) >= self.max_entries:
                    self._entries = {k: v for k, v in self._entries.items() if v[1] > now}
                self._entries[key] = (principal, now + self.ttl)
        return principal

    def cached(self, raw_token: str) -> Principal | None:
        hit = self._entries.get(hash_token(raw_token))
        return hit[0] if hit is not None and hit[1] > time.monotonic() else None
