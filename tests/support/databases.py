"""Test databases on the PostgreSQL server: fresh ones, clones of a template, and cleanup.

Server choice: `DRIFTGATE_TEST_DATABASE_URL`, else `DATABASE_URL`, else the local server on
127.0.0.1:5432, else an embedded server (pgserver) under var/pg-test. Names carry a uuid so
parallel workers (pytest-xdist) never collide.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[2]


def server_url() -> str:
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


def database_url_for(server_url: str, name: str) -> str:
    return (
        make_url(server_url)
        .set(database=name, drivername="postgresql+psycopg")
        .render_as_string(hide_password=False)
    )


def create_database(server_url: str, *, template: str | None = None, name: str = "") -> str:
    """Create a database (empty, or a copy of `template`) and return its SQLAlchemy URL."""
    name = name or f"driftgate_test_{uuid.uuid4().hex[:10]}"
    statement = f'CREATE DATABASE "{name}"'
    if template:
        statement += f' TEMPLATE "{make_url(template).database}"'
    with psycopg.connect(_libpq(server_url), autocommit=True) as conn:
        conn.execute(statement)
    return database_url_for(server_url, name)


def drop_database(server_url: str, url: str) -> None:
    name = make_url(url).database
    with psycopg.connect(_libpq(server_url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
