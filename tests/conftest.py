"""Test fixtures on a real PostgreSQL: a fresh database per session, migrated from scratch.

Server choice: `DRIFTGATE_TEST_DATABASE_URL`, else `DATABASE_URL`, else the local server on
127.0.0.1:5432, else an embedded server (pgserver) under var/pg-test. Each test runs inside a
transaction that is rolled back; tests that need real commits use `committed_db`.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from core.auth import CLI_OPERATOR, Role, create_token
from core.migrate import upgrade
from core.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def _server_url() -> str:
    for var in ("DRIFTGATE_TEST_DATABASE_URL", "DATABASE_URL"):
        if os.environ.get(var):
            return os.environ[var]
    local = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    try:
        psycopg.connect(
            "host=127.0.0.1 port=5432 user=postgres dbname=postgres", connect_timeout=3
        ).close()
        return local
    except psycopg.OperationalError:
        from core.embedded import embedded_database_url

        return embedded_database_url(ROOT / "var" / "pg-test")


def _libpq(url: str) -> str:
    u = make_url(url)
    return u.set(drivername="postgresql").render_as_string(hide_password=False)


def create_database(server_url: str) -> str:
    """Create an empty database on the server and return its SQLAlchemy URL."""
    name = f"driftgate_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(_libpq(server_url), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return (
        make_url(server_url)
        .set(database=name, drivername="postgresql+psycopg")
        .render_as_string(hide_password=False)
    )


def drop_database(server_url: str, url: str) -> None:
    name = make_url(url).database
    with psycopg.connect(_libpq(server_url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def server_url() -> str:
    return _server_url()


@pytest.fixture(scope="session")
def database_url(server_url: str) -> Iterator[str]:
    url = create_database(server_url)
    upgrade(url)
    yield url
    drop_database(server_url, url)


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
def committed_db(server_url: str) -> Iterator[str]:
    """A fresh, migrated database for tests that need real commits (concurrency, crashes)."""
    url = create_database(server_url)
    upgrade(url)
    yield url
    drop_database(server_url, url)


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
        try:
            yield db
            db.commit()
        except BaseException:
            db.rollback()
            raise

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
