"""Who is calling POST /rank, remembered for a few seconds.

The hot path cannot afford a database round trip per request just to read a token's role, so
a verified token's principal is kept in memory for `ranker_auth_cache_seconds` (the TTL).

Two things keep the database off the request path at steady load, where a plain TTL cache
sends every request that arrives while an entry is being re-checked to the database at once:

- one check per token at a time: concurrent callers of an unknown or expired token wait for
  the same lookup instead of each running their own;
- refresh ahead: once half the TTL has passed, the next request starts a re-check in the
  background and is answered from memory; the entry is renewed only if the check passes.

An entry is never older than the TTL, so a revoked token keeps ranking for at most that long;
a re-check that refuses the token drops it, and the next request is refused by the database.
A TTL of 0 checks the database on every request. Ages are measured on a monotonic clock
that tests replace, so they can step past a TTL instead of sleeping through it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from threading import Lock

from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from core.auth import Principal, authenticate, hash_token
from core.errors import Unauthorized


@dataclass(frozen=True)
class _Entry:
    principal: Principal
    refresh_at: float
    expires_at: float


class CallerCache:
    def __init__(
        self,
        ttl_seconds: float,
        max_entries: int = 10_000,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl_seconds
        self.max_entries = max_entries
        self._monotonic = monotonic
        self._entries: dict[str, _Entry] = {}
        self._lock = Lock()
        self._inflight: dict[str, asyncio.Future[Principal]] = {}
        self.lookups = 0  # database checks made (for tests and diagnostics)

    async def principal(self, raw_token: str, sessions: Callable[[], Session]) -> Principal:
        """The caller's principal: from memory while fresh, else from one shared database check
        (which raises the 401 for a bad token)."""
        if self.ttl <= 0:
            return await run_in_threadpool(self._check, hash_token(raw_token), raw_token, sessions)
        key = hash_token(raw_token)
        now = self._monotonic()
        hit = self._entries.get(key)
        if hit is not None and now < hit.expires_at:
            if now >= hit.refresh_at and key not in self._inflight:
                self._lookup(key, raw_token, sessions).add_done_callback(_consume)
            return hit.principal
        return await asyncio.shield(self._lookup(key, raw_token, sessions))

    def _lookup(
        self, key: str, raw_token: str, sessions: Callable[[], Session]
    ) -> asyncio.Future[Principal]:
        """The database check of this token in flight, started if there is none."""
        running = self._inflight.get(key)
        if running is not None:
            return running
        task = asyncio.ensure_future(run_in_threadpool(self._check, key, raw_token, sessions))
        self._inflight[key] = task
        task.add_done_callback(lambda _: self._inflight.pop(key, None))
        return task

    def _check(self, key: str, raw_token: str, sessions: Callable[[], Session]) -> Principal:
        """Ask the database (in a worker thread); remember a valid token, forget a refused one."""
        checked_at = self._monotonic()
        with self._lock:
            self.lookups += 1
        try:
            with sessions() as session:
                principal = authenticate(session, raw_token)
        except Unauthorized:
            self._entries.pop(key, None)
            raise
        if self.ttl > 0:
            with self._lock:
                if len(self._entries) >= self.max_entries:
                    self._entries = {
                        k: v for k, v in self._entries.items() if v.expires_at > checked_at
                    }
                self._entries[key] = _Entry(
                    principal, checked_at + self.ttl / 2, checked_at + self.ttl
                )
        return principal


def _consume(task: asyncio.Future[Principal]) -> None:
    """A background re-check's failure is not this request's: a refused token's entry is
    already dropped, and after any other error the entry still expires at its TTL."""
    if not task.cancelled():
        task.exception()
