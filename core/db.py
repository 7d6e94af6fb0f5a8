"""Engine and session plumbing; the request dependency or `unit_of_work` owns each transaction."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.rows import namedtuple_row, tuple_row
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from core.embedded import embedded_database_url
from core.errors import Refusal
from core.settings import Settings


def resolve_database_url(settings: Settings) -> str:
    """The configured server, or the embedded one when `DATABASE_URL` is unset."""
    if settings.database_url:
        url = make_url(settings.database_url)
        if url.drivername in ("postgresql", "postgres"):
            url = url.set(drivername="postgresql+psycopg")
        return url.render_as_string(hide_password=False)
    return embedded_database_url(settings.embedded_pg_dir)


def server_connect_args(settings: Settings) -> dict[str, object]:
    """Bound how long a connection attempt and a statement may take, so a request against an
    unreachable or stuck database fails in seconds (a 503) instead of hanging."""
    args: dict[str, object] = {"connect_timeout": settings.db_connect_timeout_seconds}
    if settings.db_statement_timeout_ms:
        args["options"] = f"-c statement_timeout={settings.db_statement_timeout_ms}"
    return args


def make_engine(url: str, **kwargs: object) -> Engine:
    return create_engine(url, pool_pre_ping=True, future=True, **kwargs)


def check_schema(engine: Engine) -> None:
    """Raise unless the database answers and its schema is migrated (readiness)."""
    with engine.connect() as connection:
        connection.execute(text("SELECT 1 FROM alembic_version"))


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=False)


@contextmanager
def transaction(session: Session) -> Iterator[Session]:
    """The one commit rule: commit when the block ends or refuses (`Refusal`: the refusal's
    record stands, the caller answers 4xx), roll back on any other error.

    The API's request dependency (`core.http`), `unit_of_work` and the tests' nested
    transaction all end their transactions through it.
    """
    try:
        yield session
        session.commit()
    except Refusal:
        session.commit()
        raise
    except BaseException:
        session.rollback()
        raise


@contextmanager
def unit_of_work(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One transaction for CLI and background code, on a session of its own."""
    session = factory()
    try:
        with transaction(session):
            yield session
    finally:
        session.close()


def fetch_binary(
    session: Session, sql: str, params: dict[str, Any], *, named: bool = False
) -> list[Any]:
    """Rows of a hot read in PostgreSQL's binary format, in the session's transaction.

    SQLAlchemy has no switch for binary results; psycopg has one, and it skips formatting and
    parsing every value as text (bytea as hex, timestamps) and building SQLAlchemy rows.
    `named` rows have attributes (named tuples), the others are plain tuples.
    """
    conn = session.connection().connection.driver_connection
    if not isinstance(conn, psycopg.Connection):  # another driver: the ordinary text protocol
        return list(session.connection().exec_driver_sql(sql, params).all())
    factory = namedtuple_row if named else tuple_row
    with conn.cursor(binary=True, row_factory=factory) as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()
