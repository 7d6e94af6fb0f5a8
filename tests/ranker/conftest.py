"""Ranker fixtures: a small synthetic world, and one trained champion shared by a session.

The shared `trained` fixture posts 3 days of a reduced feed through the contracts into a
fresh, committed database and trains, registers and crowns version 1, once per session
(about 30 s); serving, label and CLI tests build on it without retraining.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session, sessionmaker

from core.auth import CLI_OPERATOR, Role, create_token
from core.migrate import upgrade
from core.settings import Settings
from ranker.feed_config import FeedConfig
from tests.conftest import create_database, drop_database

ORIGIN = datetime(2026, 11, 2, tzinfo=UTC)


def small_config(**changes: object) -> FeedConfig:
    """A reduced world: fewer users, items and requests, same click model and knobs."""
    base: dict[str, object] = {
        "n_users": 400,
        "new_users_per_day": 10,
        "n_items": 200,
        "new_items_per_hour": 2,
        "requests_per_hour": 200,
        "horizon_days": 10,
    }
    base.update(changes)
    return FeedConfig.model_validate(base)


@dataclass
class Trained:
    url: str
    engine: Engine
    sessions: sessionmaker[Session]
    data_dir: Path
    config: FeedConfig
    start: datetime
    end: datetime
    version: int
    metrics: dict[str, object]
    artifact_sha256: str
    tokens: dict[str, str]

    def settings(self, **changes: object) -> Settings:
        base: dict[str, object] = {
            "data_dir": self.data_dir,
            "monitor_runner": False,
            "ranker_poll_seconds": 0.1,
        }
        base.update(changes)
        return Settings.model_validate(base)


@pytest.fixture(scope="session")
def trained(server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Trained]:
    from governance.training import train_and_register
    from ranker.ingest import post_feed

    url = create_database(server_url)
    upgrade(url)
    engine = create_engine(url)
    sessions = sessionmaker(bind=engine, expire_on_commit=False)
    data_dir = tmp_path_factory.mktemp("ranker-data")
    config = small_config()
    start, end = ORIGIN, ORIGIN + timedelta(days=3)
    post_feed(
        sessions, CLI_OPERATOR, config=config, origin=start, start=start, end=end, data_dir=data_dir
    )
    outcome = train_and_register(
        sessions, CLI_OPERATOR, model_name="ranker", start=start, end=end, data_dir=data_dir
    )
    with sessions.begin() as s:
        tokens = {
            role.value: create_token(
                s, CLI_OPERATOR, name=f"ranker-{role.value}", role=role, prefix="dg_"
            )
            for role in Role
        }
    yield Trained(
        url=url,
        engine=engine,
        sessions=sessions,
        data_dir=data_dir,
        config=config,
        start=start,
        end=end,
        version=outcome.version,
        metrics=outcome.metrics,
        artifact_sha256=outcome.artifact.sha256,
        tokens=tokens,
    )
    engine.dispose()
    drop_database(server_url, url)


def bearer(trained: Trained, role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {trained.tokens[role]}"}
