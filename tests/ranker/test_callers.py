"""POST /rank's token cache: one database check per token at a time, re-checked ahead of expiry,
and never trusted past its TTL."""

from __future__ import annotations

import asyncio
import threading
import uuid

import pytest
from sqlalchemy.orm import Session

from core.auth import CLI_OPERATOR, Role, create_token, revoke_token
from core.errors import Unauthorized
from ranker.callers import CallerCache
from tests.support.trained import Trained


def new_token(trained: Trained) -> tuple[str, str]:
    name = f"caller-{uuid.uuid4().hex[:8]}"
    with trained.sessions.begin() as s:
        return name, create_token(s, CLI_OPERATOR, name=name, role=Role.viewer, prefix="dg_")


def test_concurrent_callers_of_an_unknown_token_share_one_database_check(
    trained: Trained,
) -> None:
    _, token = new_token(trained)
    cache = CallerCache(5.0)

    async def burst() -> list[str]:
        found = await asyncio.gather(*(cache.principal(token, trained.sessions) for _ in range(20)))
        return [p.name for p in found]

    names = asyncio.run(burst())
    assert len(set(names)) == 1 and cache.lookups == 1


class SteppedClock:
    """A monotonic clock that moves only when the test steps it."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def step(self, seconds: float) -> None:
        self.now += seconds


def test_a_token_is_rechecked_in_the_background_after_half_its_ttl(trained: Trained) -> None:
    _, token = new_token(trained)
    clock = SteppedClock()
    cache = CallerCache(1.0, monotonic=clock)
    database_open = threading.Event()
    database_open.set()

    def sessions() -> Session:
        assert database_open.wait(30), "the test never let the re-check through"
        return trained.sessions()

    async def scenario() -> None:
        await cache.principal(token, sessions)
        assert cache.lookups == 1
        clock.step(0.6)  # past half the TTL, before expiry
        database_open.clear()  # the re-check it starts cannot finish...
        await asyncio.wait_for(cache.principal(token, sessions), timeout=10)  # ...yet answered
        database_open.set()
        clock.step(0.45)  # past the first check's expiry, inside the renewed entry's half-life
        await cache.principal(token, sessions)  # the renewed entry (or that same re-check)

    asyncio.run(scenario())
    assert cache.lookups == 2


def test_a_revoked_token_is_refused_within_the_ttl_even_while_in_use(trained: Trained) -> None:
    name, token = new_token(trained)
    clock = SteppedClock()
    cache = CallerCache(0.6, monotonic=clock)

    async def scenario() -> None:
        await cache.principal(token, trained.sessions)
        with trained.sessions.begin() as s:
            revoke_token(s, CLI_OPERATOR, name=name)
        for _ in range(2):  # a busy client keeps calling: answered from memory meanwhile
            clock.step(0.2)
            await cache.principal(token, trained.sessions)
        clock.step(0.21)  # one TTL after the only check that passed
        with pytest.raises(Unauthorized):
            await cache.principal(token, trained.sessions)

    asyncio.run(scenario())


def test_a_ttl_of_zero_checks_the_database_on_every_call(trained: Trained) -> None:
    name, token = new_token(trained)
    cache = CallerCache(0)

    async def scenario() -> None:
        for _ in range(3):
            await cache.principal(token, trained.sessions)
        with trained.sessions.begin() as s:
            revoke_token(s, CLI_OPERATOR, name=name)
        with pytest.raises(Unauthorized):
            await cache.principal(token, trained.sessions)

    asyncio.run(scenario())
    assert cache.lookups == 4
