"""Rate limits per caller and route class, and load shedding on POST /rank.

Token buckets (one per caller and route class) give each caller a steady rate with a short
burst; an empty bucket answers 429 with Retry-After (the seconds until a token is back) before
any database work. The caller is the bearer token (hashed: any string a client sends is a
caller, so the bucket table is a bounded LRU), or the client address without one.

POST /rank also has a bound on calls handled at once per process: past it, calls are shed with
503 and Retry-After at once, so under overload the answered calls keep their latency and the
rest fail fast, instead of every call queueing until all of them time out.

Limits live in settings (`DRIFTGATE_RATELIMIT_*`, `DRIFTGATE_RANK_MAX_IN_FLIGHT`) and are per
process: N replicas admit up to N times the rate. See docs/security.md ("Faults and load").
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from core.settings import Settings

RANK, INGEST, WRITE, READ = "rank", "ingest", "write", "read"
_INGEST_PATHS = frozenset({"/batches", "/labels", "/api/v1/lineage"})
_EXEMPT_PATHS = frozenset({"/health", "/ready"})  # probes: no token, no work


def route_class(method: str, path: str) -> str | None:
    """Which bucket a request draws from (None: not limited)."""
    if path in _EXEMPT_PATHS:
        return None
    if method in ("GET", "HEAD", "OPTIONS"):
        return READ
    if path == "/rank":
        return RANK
    return INGEST if path in _INGEST_PATHS else WRITE


@dataclass
class TokenBucket:
    """`rate` tokens a second, holding at most `capacity`; starts full."""

    rate: float
    capacity: float
    tokens: float
    updated: float

    def take(self, now: float) -> float:
        """Take one token: 0.0 when granted, else the seconds until one is available."""
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate


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
        }
        return cls(rates, settings.ratelimit_burst_seconds, settings.ratelimit_max_callers)

    def capacity(self, route: str) -> float:
        return max(1.0, self.rates[route] * self.burst_seconds)

    def check(self, caller: str, route: str, now: float | None = None) -> float:
        """0.0 when the call may go ahead, else the seconds to wait (one token is taken)."""
        now = time.monotonic() if now is None else now
        key = (caller, route)
        bucket = self._buckets.get(key)
        if bucket is None:
            cap = self.capacity(route)
            bucket = self._buckets[key] = TokenBucket(self.rates[route], cap, cap, now)
            if len(self._buckets) > self.max_callers:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
        return bucket.take(now)


def caller_of(scope: dict[str, Any]) -> str:
    """The bearer token's digest, or the client address for calls without one."""
    for name, value in scope.get("headers") or ():
        if name == b"authorization":
            scheme, _, token = value.partition(b" ")
            if scheme.lower() == b"bearer" and token.strip():
                return "token:" + hashlib.blake2b(token.strip(), digest_size=16).hexdigest()
    client = scope.get("client")
    return f"addr:{client[0] if client else 'unknown'}"


class LoadGuard:
    """Pure ASGI middleware: 429 past a caller's rate, 503 past POST /rank's in-flight bound."""

    def __init__(self, app: Any, settings: Settings, state: Any = None) -> None:
        self.app = app
        if state is not None:
            state.load_guard = self  # read by /metrics
        self.limiter = RateLimiter.from_settings(settings) if settings.ratelimit_enabled else None
        self.max_in_flight = settings.rank_max_in_flight
        self.in_flight = 0
        self.limited: dict[str, int] = {}  # 429s per route class, for /metrics
        self.shed = 0  # POST /rank calls shed, for /metrics

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        route = route_class(scope["method"], scope["path"])
        if route is not None and self.limiter is not None:
            wait = self.limiter.check(caller_of(scope), route)
            if wait > 0:
                self.limited[route] = self.limited.get(route, 0) + 1
                await _refuse(send, 429, self._too_many(route, wait), wait)
                return
        if route != RANK or self.max_in_flight <= 0:
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.max_in_flight:
            self.shed += 1
            await _refuse(send, 503, self._overloaded(), 1.0)
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1

    def _too_many(self, route: str, wait: float) -> bytes:
        assert self.limiter is not None
        return _problem_bytes(
            429,
            "Too many requests",
            f"this caller's {route} rate limit of {self.limiter.rates[route]:g}/s "
            f"(burst {self.limiter.capacity(route):g}) is used up; retry after the given seconds",
            "rate-limited",
            field="Authorization",
            rule="rate_limit",
            route_class=route,
            limit_per_second=self.limiter.rates[route],
            retry_after=max(1, math.ceil(wait)),
        )

    def _overloaded(self) -> bytes:
        return _problem_bytes(
            503,
            "Overloaded",
            f"{self.max_in_flight} POST /rank calls are already being handled here; "
            "this one was shed to keep their latency; retry shortly",
            "overloaded",
            rule="rank_max_in_flight",
            limit=self.max_in_flight,
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
