"""Rate limits per caller and route class, and load shedding on POST /rank."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from api import ratelimit
from api.ratelimit import (
    INGEST,
    RANK,
    READ,
    WRITE,
    LoadGuard,
    RateLimiter,
    TokenBucket,
    route_class,
    route_path,
)
from core.settings import Settings

Auth = Callable[[str], dict[str, str]]


def gcra_grants(rate: float, capacity: float, times: list[float]) -> list[bool]:
    """Reference: the generic cell rate algorithm (ITU-T I.371 virtual scheduling), which admits
    the same calls as a token bucket of `capacity` tokens refilled at `rate` per second."""
    interval, tolerance = 1.0 / rate, (capacity - 1.0) / rate
    tat = times[0] if times else 0.0  # theoretical arrival time
    out = []
    for t in times:
        if t < tat - tolerance:
            out.append(False)
            continue
        tat = max(tat, t) + interval
        out.append(True)
    return out


@pytest.mark.slow
@hsettings(max_examples=300, deadline=None)
@given(
    rate=st.sampled_from([0.5, 1.0, 2.0, 4.0, 8.0]),
    capacity=st.sampled_from([1.0, 2.0, 4.0, 16.0]),
    gaps=st.lists(st.integers(0, 256), min_size=1, max_size=80),
)
def test_token_bucket_admits_exactly_what_gcra_admits(
    rate: float, capacity: float, gaps: list[int]
) -> None:
    times, t = [], 1000.0
    for gap in gaps:
        t += gap / 64  # binary fractions: both sides compute exactly, no rounding ties
        times.append(t)
    bucket = TokenBucket(rate, capacity, capacity, times[0])
    assert [bucket.take(t) == 0.0 for t in times] == gcra_grants(rate, capacity, times)


def test_an_empty_bucket_says_how_long_until_the_next_token() -> None:
    bucket = TokenBucket(rate=2.0, capacity=2.0, tokens=2.0, updated=0.0)
    assert bucket.take(0.0) == 0.0 and bucket.take(0.0) == 0.0
    assert bucket.take(0.0) == pytest.approx(0.5)
    assert bucket.take(0.25) == pytest.approx(0.25)
    assert bucket.take(0.5) == 0.0


def test_route_classes() -> None:
    assert route_class("POST", "/rank") == RANK
    assert route_class("POST", "/batches") == INGEST
    assert route_class("POST", "/api/v1/lineage") == INGEST
    assert route_class("POST", "/labels") == INGEST
    assert route_class("GET", "/rank/status") == READ
    assert route_class("DELETE", "/tokens/x") == WRITE
    assert route_class("GET", "/health") is None and route_class("GET", "/ready") is None


def test_behind_a_root_path_routes_are_classed_by_the_path_the_app_routes_on() -> None:
    scope = {"path": "/driftgate/rank", "root_path": "/driftgate"}
    assert route_path(scope) == "/rank"
    assert route_path({"path": "/rank", "root_path": ""}) == "/rank"
    assert route_path({"path": "/driftgate", "root_path": "/driftgate"}) == "/"


def test_buckets_are_per_caller_and_class_and_bounded() -> None:
    limiter = RateLimiter({RANK: 1.0, READ: 1.0, INGEST: 1.0, WRITE: 1.0}, 1.0, max_callers=2)
    assert limiter.check("a", READ, 0.0) == 0.0
    assert limiter.check("a", READ, 0.0) > 0
    assert limiter.check("a", RANK, 0.0) == 0.0  # another class: its own bucket
    assert limiter.check("b", READ, 0.0) == 0.0  # another caller: its own bucket
    assert len(limiter._buckets) == 2  # the least recently used went


class SteppedClock:
    """Stands in for `time` inside api.ratelimit: monotonic time moves only when the test steps
    it, so buckets refill exactly when the test says however slow the machine is."""

    thread_time = staticmethod(time.thread_time)

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now

    def step(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> SteppedClock:
    stepped = SteppedClock()
    monkeypatch.setattr(ratelimit, "time", stepped)
    return stepped


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        database_url=None,
        data_dir=tmp_path / "data",
        ratelimit_read_per_second=2.0,
        ratelimit_burst_seconds=1.5,  # capacity 3
        ratelimit_auth_failures_per_second=2.0,
        ranker_serving=False,
        monitor_runner=False,
        governance_bake_guard=False,
    )


def test_a_caller_past_its_rate_gets_429_with_retry_after_and_others_do_not(
    client: TestClient, auth: Auth, clock: SteppedClock
) -> None:
    viewer = auth("viewer")
    answers = [client.get("/batches", headers=viewer).status_code for _ in range(4)]
    assert answers == [200, 200, 200, 429]
    refused = client.get("/batches", headers=viewer)
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.headers["Retry-After"] == "1"
    problem = refused.json()
    assert (problem["type"], problem["rule"], problem["route_class"]) == (
        "urn:driftgate:problem:rate-limited",
        "rate_limit",
        "read",
    )
    # The same token spelled differently is the same caller.
    assert (
        client.get(
            "/batches", headers={"Authorization": "bearer  " + viewer["Authorization"][7:]}
        ).status_code
        == 429
    )
    assert client.get("/batches", headers=auth("admin")).status_code == 200
    assert client.get("/health").status_code == 200  # probes are never limited
    assert client.post("/contracts", json={}, headers=viewer).status_code != 429


def test_rotating_made_up_tokens_is_limited_per_address(
    app: Any, auth: Auth, tokens: dict[str, str], clock: SteppedClock
) -> None:
    # The module's settings: 2 auth failures/s per address, burst 3.
    with TestClient(app, raise_server_exceptions=False) as client:
        made_up = [
            client.get("/batches", headers={"Authorization": f"Bearer dg_fake{i}"}).status_code
            for i in range(3)
        ]
        assert made_up == [401, 401, 401]  # each a fresh token: its own full bucket
        refused = client.get("/batches", headers={"Authorization": "Bearer dg_fake-next"})
        assert refused.status_code == 429 and refused.json()["rule"] == "auth_failure_rate"
        assert client.get("/batches").status_code == 429  # no token: same address
        clock.step(0.5)  # a token comes back at 2/s
        assert client.get("/batches", headers=auth("viewer")).status_code == 200


class _Slow:
    """A downstream app whose POST /rank waits until released (the app's real work stands
    in for this over real sockets in bench/bench_load.py)."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.entered = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.entered += 1
        await self.release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})


@pytest.mark.parametrize(
    ("path", "setting"),
    [
        ("/rank", "rank_max_in_flight"),
        ("/batches", "batches_max_in_flight"),
        ("/api/v1/lineage", "lineage_max_in_flight"),
    ],
)
def test_calls_past_the_in_flight_bound_are_shed_at_once_with_503(path: str, setting: str) -> None:
    async def scenario() -> tuple[list[int], int, LoadGuard]:
        slow = _Slow()
        guard = LoadGuard(slow, Settings(**{setting: 4}, ratelimit_enabled=False))
        transport = httpx.ASGITransport(app=guard)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            calls = [asyncio.create_task(http.post(path, json={})) for _ in range(7)]
            deadline = time.monotonic() + 30
            while slow.entered < 4 or sum(c.done() for c in calls) < 3:
                assert time.monotonic() < deadline, "the calls past the bound were not shed"
                await asyncio.sleep(0.01)
            shed = [c for c in calls if c.done()]
            shed_statuses = [c.result().status_code for c in shed]
            assert all(c.result().headers["Retry-After"] == "1" for c in shed)
            other = asyncio.create_task(http.get(path))  # only POST is shed
            while slow.entered < 5:
                await asyncio.sleep(0.01)
            slow.release.set()
            done = [(await c).status_code for c in calls]
            assert (await other).status_code == 200
        return sorted(done), len(shed_statuses), guard

    statuses, shed, guard = asyncio.run(scenario())
    assert shed == 3 and statuses == [200] * 4 + [503] * 3
    assert guard.shed[f"POST {path}"] == 3 and guard.in_flight[f"POST {path}"] == 0


class _Scoring:
    """A downstream app that scores on the event loop without suspending, as POST /rank does."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        until = time.thread_time() + self.seconds  # this much CPU, blocking the loop
        while time.thread_time() < until:
            pass
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})


def _burst(max_loop_lag_ms: float, calls: int = 30) -> tuple[list[int], float]:
    """`calls` POST /rank at once against 30 ms of loop-blocking scoring each."""

    async def scenario() -> tuple[list[int], float]:
        guard = LoadGuard(
            _Scoring(0.03),
            Settings(ratelimit_enabled=False, rank_max_loop_lag_ms=max_loop_lag_ms),
        )
        guard.start_watching()
        await asyncio.sleep(0.05)  # a few heartbeats on an idle loop
        transport = httpx.ASGITransport(app=guard)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            started = time.perf_counter()
            answers = await asyncio.gather(*(http.post("/rank", json={}) for _ in range(calls)))
            took = time.perf_counter() - started
        await guard.stop_watching()
        return [a.status_code for a in answers], took

    return asyncio.run(scenario())


@pytest.mark.slow
def test_rank_is_shed_while_the_event_loop_lags_so_the_burst_ends_fast() -> None:
    unguarded, slow = _burst(0)
    assert unguarded == [200] * 30 and slow >= 0.85  # every call waits for all before it
    statuses, fast = _burst(100)
    scored = statuses.count(200)
    assert 2 <= scored <= 8, statuses  # ~100 ms of scoring admitted, then shed at once
    assert statuses.count(503) == 30 - scored
    assert fast < 0.5, fast


def test_calls_queued_behind_a_stall_they_did_not_cause_are_scored() -> None:
    async def scenario() -> list[int]:
        guard = LoadGuard(
            _Scoring(0.005), Settings(ratelimit_enabled=False, rank_max_loop_lag_ms=100)
        )
        guard.start_watching()
        await asyncio.sleep(0.05)
        statuses: list[int] = []
        since_beat: list[float] = []

        async def send(message: Any) -> None:
            if message["type"] == "http.response.start":
                statuses.append(message["status"])
                assert guard._beat is not None
                current = asyncio.get_running_loop().time() - guard._beat
                since_beat.append(max(current, guard.loop_lag))

        async def receive() -> Any:
            return {"type": "http.request", "body": b"{}"}

        scope = {"type": "http", "method": "POST", "path": "/rank", "headers": []}
        time.sleep(0.3)  # a new champion loading in another thread holds the GIL
        # Four calls queued behind the stall: to the guard the loop is 0.3 s behind.
        await asyncio.gather(*(guard(dict(scope), receive, send) for _ in range(4)))
        assert min(since_beat) > 0.25  # the guard saw the stall, as current or last lag
        await guard.stop_watching()
        return statuses

    assert asyncio.run(scenario()) == [200] * 4
