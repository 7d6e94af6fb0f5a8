"""POST /rank's token cache: one database check per token at a time, re-checked ahead of expiry,
and never trusted past its TTL."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from core.auth import CLI_OPERATOR, Role, create_token, revoke_token
from core.errors import Unauthorized
from ranker.callers import CallerCache
from tests.ranker.conftest import Trained


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


def test_a_token_is_rechecked_in_the_background_after_half_its_ttl(trained: Trained) -> None:
    _, token = new_token(trained)
    cache = CallerCache(1.0)

    async def scenario() -> tuple[int, int, int]:
        await cache.principal(token, trained.sessions)
        first = cache.lookups
        await asyncio.sleep(0.6)  # past half the TTL, before expiry
        started = time.monotonic()
        await cache.principal(token, trained.sessions)
        answered_from_memory = time.monotonic() - started < 0.05
        for _ in range(100):  # the re-check runs on; wait for it
            if cache.lookups > first:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)
        await cache.principal(token, trained.sessions)  # renewed: no third check
        return first, cache.lookups, int(answered_from_memory)

    assert asyncio.run(scenario()) == (1, 2, 1)


def test_a_revoked_token_is_refused_within_the_ttl_even_while_in_use(trained: Trained) -> None:
    name, token = new_token(trained)
    ttl = 0.6
    cache = CallerCache(ttl)

    async def scenario() -> float:
        await cache.principal(token, trained.sessions)
        with trained.sessions.begin() as s:
            revoke_token(s, CLI_OPERATOR, name=name)
        revoked_at = time.monotonic()
        while True:  # keep calling, as a busy client would, until refused
            try:
                await cache.principal(token, trained.sessions)
            except Unauthorized:
                return time.monotonic() - revoked_at
            await asyncio.sleep(0.02)

    refused_after = asyncio.run(scenario())
    assert refused_after <= ttl + 0.1


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
