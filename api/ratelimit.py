"""Rate limits per caller and route class, and load shedding on POST /rank.

Token buckets (one per caller and route class) give each caller a steady rate with a short
burst; an empty bucket answers 429 with Retry-After (the seconds until a token is back) before
any database work. The caller is the bearer token (hashed: any string a client sends is a
caller, so the bucket table is a bounded LRU), or the client address without one.

POST /rank is also shed (503 with Retry-After, at once) when the process is overloaded, so
under overload the answered calls keep their latency and the rest fail fast, instead of every
call queueing until all of them time out. Scoring runs on the event loop without suspending,
so a count of calls in flight barely moves while calls queue: the queue is the loop's backlog
of ready work. The signal is therefore the loop's lag, read by a heartbeat every 10 ms: a call
is shed while the last heartbeat came late by more than `rank_max_loop_lag_ms`, or while the
heartbeat has been kept from running that long right now (a burst of calls scored back to
back), provided scoring took at least half that time meanwhile (a stall with another cause,
such as a new champion loading, sheds nothing). A bound on calls in flight
(`rank_max_in_flight`) still covers calls that do suspend (a token looked up in the database).

POST /batches does suspend (spooling, validation in a worker thread), so a bound on batches
validated at once (`batches_max_in_flight`) sheds it before the worker threads are all taken
and even `/health` waits; lineage events waiting on their group commit are bounded the same
way (`lineage_max_in_flight`).

Limits live in settings (`DRIFTGATE_RATELIMIT_*`, `DRIFTGATE_RANK_MAX_IN_FLIGHT`) and are per
process: N replicas admit up to N times the rate. See docs/security.md ("Faults and load").
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import math
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from core.settings import Settings

RANK, INGEST, WRITE, READ = "rank", "ingest", "write", "read"
AUTH_FAILURES = "auth_failures"  # 401s per client address: rotating tokens gets no fresh bucket
_INGEST_PATHS = frozenset({"/batches", "/labels", "/api/v1/lineage"})
_EXEMPT_PATHS = frozenset({"/health", "/ready"})  # probes: no token, no work
_BEAT_SECONDS = 0.01
SHED_RANK, SHED_BATCHES, SHED_LINEAGE = "POST /rank", "POST /batches", "POST /api/v1/lineage"


def route_class(method: str, path: str) -> str | None:
    """Which bucket a request draws from (None: not limited)."""
    if path in _EXEMPT_PATHS:
        return None
    if method in ("GET", "HEAD", "OPTIONS"):
        return READ
    if path == "/rank":
        return RANK
    return INGEST if path in _INGEST_PATHS else WRITE


def route_path(scope: dict[str, Any]) -> str:
    """The path the app routes on: behind a `root_path` (a proxy's prefix), without it."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] or "/" if root and path.startswith(root) else path


@dataclass
class TokenBucket:
    """`rate` tokens a second, holding at most `capacity`; starts full."""

    rate: float
    capacity: float
    tokens: float
    updated: float

    def take(self, now: float) -> float:
        """Take one token: 0.0 when granted, else the seconds until one is available."""
        wait = self.wait(now)
        if wait == 0.0:
            self.tokens -= 1.0
        return wait

    def wait(self, now: float) -> float:
        """Seconds until a token is available (0.0: one is), taking none."""
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        return 0.0 if self.tokens >= 1.0 else (1.0 - self.tokens) / self.rate


class RateLimiter:
    """Buckets per (caller, route class), the least recently used dropped past `max_callers`."""

    def __init__(self, rates: dict[str, float], burst_seconds: float, max_callers: int) -> None:
        self.rates = rates
        self.burst_seconds = burst_seconds
        self.max_callers = max_callers
        self._buckets: OrderedDict[tuple[str, str], TokenBucket] = OrderedDict()

    @classmethod
    def from_settings(cls, settings: Settings) -> RateLimiter:
        rates = {
            RANK: settings.ratelimit_rank_per_second,
            INGEST: settings.ratelimit_ingest_per_second,
            WRITE: settings.ratelimit_write_per_second,
            READ: settings.ratelimit_read_per_second,
            AUTH_FAILURES: settings.ratelimit_auth_failures_per_second,
        }
        return cls(rates, settings.ratelimit_burst_seconds, settings.ratelimit_max_callers)

    def capacity(self, route: str) -> float:
        return max(1.0, self.rates[route] * self.burst_seconds)

    def check(self, caller: str, route: str, now: float | None = None) -> float:
        """0.0 when the call may go ahead, else the seconds to wait (one token is taken)."""
        now = time.monotonic() if now is None else now
        return self._bucket(caller, route, now).take(now)

    def peek(self, caller: str, route: str, now: float | None = None) -> float:
        """Like `check`, without taking a token."""
        now = time.monotonic() if now is None else now
        bucket = self._buckets.get((caller, route))
        return 0.0 if bucket is None else bucket.wait(now)

    def _bucket(self, caller: str, route: str, now: float) -> TokenBucket:
        key = (caller, route)
        bucket = self._buckets.get(key)
        if bucket is None:
            cap = self.capacity(route)
            bucket = self._buckets[key] = TokenBucket(self.rates[route], cap, cap, now)
            if len(self._buckets) > self.max_callers:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
        return bucket


def caller_of(scope: dict[str, Any]) -> str:
    """The bearer token's digest, or the client address for calls without one."""
    for name, value in scope.get("headers") or ():
        if name == b"authorization":
            scheme, _, token = value.partition(b" ")
            if scheme.lower() == b"bearer" and token.strip():
                return "token:" + hashlib.blake2b(token.strip(), digest_size=16).hexdigest()
    return address_of(scope)


def address_of(scope: dict[str, Any]) -> str:
    client = scope.get("client")
    return f"addr:{client[0] if client else 'unknown'}"


class LoadGuard:
    """Pure ASGI middleware: 429 past a caller's rate; 503 for POST /rank while the process is
    overloaded and for POST /batches past its bound on validations at once."""

    def __init__(self, app: Any, settings: Settings, state: Any = None) -> None:
        self.app = app
        if state is not None:
            state.load_guard = self  # read by /metrics
        self.limiter = RateLimiter.from_settings(settings) if settings.ratelimit_enabled else None
        # Bounds on calls handled at once, per shed route (0: none).
        self.max_in_flight = {
            SHED_RANK: settings.rank_max_in_flight,
            SHED_BATCHES: settings.batches_max_in_flight,
            SHED_LINEAGE: settings.lineage_max_in_flight,
        }
        self.max_loop_lag = settings.rank_max_loop_lag_ms / 1000.0
        self.in_flight = dict.fromkeys(self.max_in_flight, 0)
        self.loop_lag = 0.0  # how late the last heartbeat ran, seconds
        self._beat: float | None = None  # loop time of the last heartbeat
        # CPU seconds spent on POST /rank since the last heartbeat, and in the interval before.
        self._work_now = self._work_last = 0.0
        self._watcher: asyncio.Task[None] | None = None
        self.limited: dict[str, int] = {}  # 429s per route class, for /metrics
        self.shed = dict.fromkeys(self.max_in_flight, 0)  # 503s per shed route, for /metrics

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":  # the heartbeat lives as long as the app
            self.start_watching()
            try:
                await self.app(scope, receive, send)
            finally:
                await self.stop_watching()
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = route_path(scope)
        route = route_class(scope["method"], path)
        if route is not None and self.limiter is not None:
            address = address_of(scope)
            for caller, bucket, take in (
                (address, AUTH_FAILURES, False),
                (caller_of(scope), route, True),
            ):
                limiter = self.limiter
                wait = (limiter.check if take else limiter.peek)(caller, bucket)
                if wait > 0:
                    self.limited[bucket] = self.limited.get(bucket, 0) + 1
                    await _refuse(send, 429, self._too_many(bucket, wait), wait)
                    return
            send = self._counting_auth_failures(send, address)
        shed_route = f"{scope['method']} {path}"
        bound = self.max_in_flight.get(shed_route)
        if bound is None:
            await self.app(scope, receive, send)
            return
        if 0 < bound <= self.in_flight[shed_route] or (shed_route == SHED_RANK and self.lagging()):
            self.shed[shed_route] += 1
            await _refuse(send, 503, self._overloaded(shed_route), 1.0)
            return
        self.in_flight[shed_route] += 1
        # CPU time of the loop's thread, not wall time: on a busy host a call descheduled
        # midway is slow without being the reason the loop is behind.
        started = time.thread_time()
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight[shed_route] -= 1
            if shed_route == SHED_RANK:
                self._work_now += time.thread_time() - started

    def lagging(self) -> bool:
        """Whether the loop is behind by more than the bound *because of* POST /rank calls.

        The loop is behind when the last heartbeat came late, or the current one has been kept
        from running, by more than the bound; it is the calls' doing when scoring them took at
        least half that time of CPU meanwhile. A stall that is not (a collection, another thread
        holding the GIL while a new champion loads) sheds nothing: the calls queued behind it
        are few and answering them is quick.
        """
        if self.max_loop_lag <= 0 or self._beat is None:
            return False
        stalled = asyncio.get_running_loop().time() - self._beat - _BEAT_SECONDS
        half = self.max_loop_lag / 2
        return (stalled > self.max_loop_lag and self._work_now > half) or (
            self.loop_lag > self.max_loop_lag and self._work_last > half
        )

    def start_watching(self) -> None:
        """Start the heartbeat on the running loop (the app's lifespan does this)."""
        if self.max_loop_lag > 0 and self._watcher is None:
            self._watcher = asyncio.get_running_loop().create_task(self._heartbeat())

    async def stop_watching(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
            self._watcher, self._beat = None, None

    async def _heartbeat(self) -> None:
        loop = asyncio.get_running_loop()
        self._beat = loop.time()
        while True:
            await asyncio.sleep(_BEAT_SECONDS)
            now = loop.time()
            self.loop_lag = max(0.0, now - self._beat - _BEAT_SECONDS)
            self._beat = now
            self._work_last, self._work_now = self._work_now, 0.0

    def _counting_auth_failures(self, send: Any, address: str) -> Any:
        """`send`, taking a token from the address's auth-failure bucket on a 401."""
        limiter = self.limiter
        assert limiter is not None

        async def counted(message: Any) -> None:
            if message["type"] == "http.response.start" and message["status"] == 401:
                limiter.check(address, AUTH_FAILURES)
            await send(message)

        return counted

    def _too_many(self, route: str, wait: float) -> bytes:
        assert self.limiter is not None
        return _problem_bytes(
            429,
            "Too many requests",
            (
                "too many calls from this address failed authentication "
                if route == AUTH_FAILURES
                else f"this caller's {route} rate limit "
            )
            + f"({self.limiter.rates[route]:g}/s, burst {self.limiter.capacity(route):g}) "
            "is used up; retry after the given seconds",
            "rate-limited",
            field="Authorization",
            rule="auth_failure_rate" if route == AUTH_FAILURES else "rate_limit",
            route_class=route,
            limit_per_second=self.limiter.rates[route],
            retry_after=max(1, math.ceil(wait)),
        )

    def _overloaded(self, shed_route: str) -> bytes:
        return _problem_bytes(
            503,
            "Overloaded",
            f"this process is handling more {shed_route} calls than it can answer in time; "
            "this one was shed to keep the others' latency; retry shortly",
            "overloaded",
            rule="load_shedding",
            route=shed_route,
            max_in_flight=self.max_in_flight[shed_route],
            retry_after=1,
        )


def _problem_bytes(status: int, title: str, detail: str, slug: str, **extra: Any) -> bytes:
    body = {"type": f"urn:driftgate:problem:{slug}", "title": title, "status": status}
    return json.dumps({**body, "detail": detail, **extra}).encode()


async def _refuse(send: Any, status: int, payload: bytes, wait: float) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(payload)).encode()),
                (b"retry-after", str(max(1, math.ceil(wait))).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
