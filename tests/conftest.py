"""Test fixtures on a real PostgreSQL: a fresh migrated database per worker and session.

Migrations run once per test run, into a template database that every session database and
`committed_db` is cloned from (see tests/support/templates.py); the server is chosen in
tests/support/databases.py. Each test runs inside a transaction that is rolled back; tests
that need real commits use `committed_db`.
"""

from __future__ import annotations

import os

# Every API the suite starts (in process or as a child) keeps a smaller pool: two workers'
# live servers together must stay under the shared server's max_connections (100).
os.environ.setdefault("DRIFTGATE_DB_POOL_SIZE", "4")
os.environ.setdefault("DRIFTGATE_DB_MAX_OVERFLOW", "16")

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, create_engine
from sqlalchemy.orm import Session

from core.auth import CLI_OPERATOR, Role, create_token
from core.db import transaction
from core.migrate import upgrade
from core.settings import Settings
from tests.support import databases
from tests.support.databases import drop_database
from tests.support.templates import Template, build_once

pytest_plugins = ["tests.support.shared_run", "tests.support.trained"]


def _migrate(url: str, data_dir: Path) -> dict[str, object]:
    upgrade(url)
    return {}


NEEDS_TRAINING = {"trained", "real", "trained_template"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests on the trained ranker are slow: the first one in a run waits for its training."""
    for item in items:
        if NEEDS_TRAINING & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def server_url() -> str:
    return databases.server_url()


@pytest.fixture(scope="session")
def migrated_template(server_url: str, pytestconfig: pytest.Config) -> Template:
    """An empty database migrated to head, once per run, to clone."""
    return build_once(pytestconfig, "migrated", server_url, _migrate)


@pytest.fixture(scope="session")
def database_url(migrated_template: Template) -> Iterator[str]:
    url = migrated_template.clone()
    yield url
    drop_database(migrated_template.server_url, url)


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    eng = create_engine(database_url)
    yield eng
    eng.dispose()


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    with engine.connect() as conn:
        tx = conn.begin()
        yield conn
        tx.rollback()


@pytest.fixture
def db(connection: Connection) -> Iterator[Session]:
    """A session whose commits are savepoints inside a transaction rolled back after the test."""
    session = Session(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    yield session
    session.close()


@pytest.fixture
def committed_db(migrated_template: Template) -> Iterator[str]:
    """A fresh, migrated database for tests that need real commits (concurrency, crashes)."""
    url = migrated_template.clone()
    yield url
    drop_database(migrated_template.server_url, url)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        database_url=None,
        data_dir=tmp_path / "data",
        max_body_bytes=8 * 1024 * 1024,
        # tests build references from a few batches on purpose; the minimums have their own
        # tests (tests/monitors/test_references.py)
        monitor_reference_min_batches=1,
        monitor_reference_min_rows=1,
    )


@pytest.fixture
def app(settings: Settings, database_url: str, db: Session):  # type: ignore[no-untyped-def]
    """The real app, with each request's transaction nested in the test's transaction."""
    from api.app import create_app
    from core.http import _session

    application = create_app(settings, database_url=database_url)

    def test_session() -> Iterator[Session]:
        with transaction(db):  # the app's commit rule, on the test's nested transaction
            yield db

    application.dependency_overrides[_session] = test_session
    return application


@pytest.fixture
def client(app) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def tokens(db: Session) -> dict[str, str]:
    """One token per role, created the way the CLI does."""
    out = {
        role.value: create_token(
            db, CLI_OPERATOR, name=f"test-{role.value}", role=role, prefix="dg_"
        )
        for role in Role
    }
    db.commit()
    return out


@pytest.fixture
def auth(tokens: dict[str, str]) -> Callable[[str], dict[str, str]]:
    return lambda role: {"Authorization": f"Bearer {tokens[role]}"}
