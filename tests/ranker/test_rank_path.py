"""POST /rank is answered on the event loop: no hop to the thread pool on the hot path.

FastAPI runs a plain `def` dependency (or handler) in its thread pool: a hand-off to another
thread and back on every call, with a wait for the interpreter lock in between. Counted at
the one door every such hop goes through, `anyio.to_thread.run_sync`.
"""

from __future__ import annotations

from typing import Any

import anyio.to_thread
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from tests.support.servers import wait_until
from tests.support.trained import Trained, bearer


def test_a_warm_rank_call_never_enters_the_thread_pool(
    trained: Trained, monkeypatch: pytest.MonkeyPatch
) -> None:
    headers = bearer(trained, "viewer")
    app = create_app(trained.settings(predlog_enabled=False), database_url=trained.url)
    body = {"user_id": "u000001", "item_ids": ["i1", "i2", "i3"], "context": {"surface": "feed"}}
    with TestClient(app, raise_server_exceptions=False) as client:
        wait_until(
            lambda: client.get("/rank/status", headers=headers).json()["serving"],
            what="the champion to be served",
        )
        # The first call looks the token up in the database (in a worker thread, as it should).
        assert client.post("/rank", json=body, headers=headers).status_code == 200
        hops: list[str] = []
        real = anyio.to_thread.run_sync

        async def counted(func: Any, *args: Any, **kwargs: Any) -> Any:
            hops.append(getattr(func, "__qualname__", repr(func)))
            return await real(func, *args, **kwargs)

        monkeypatch.setattr(anyio.to_thread, "run_sync", counted)
        for _ in range(5):
            assert client.post("/rank", json=body, headers=headers).status_code == 200
        monkeypatch.undo()  # shutting down may use the pool (the lineage writer's stop)
    assert hops == [], f"POST /rank ran these in the thread pool: {hops}"
