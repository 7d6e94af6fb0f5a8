"""The database role the service runs as: it may append to the audit trail, never rewrite it.

Migrations run as the schema's owner; the service connects as a login role that owns
nothing. Not owning `audit_events`, it cannot ALTER the table (so cannot DISABLE its
triggers) or drop them; UPDATE, DELETE and TRUNCATE on it are not granted; it is not a
superuser and is granted no SET on `session_replication_role`, so it cannot switch the
triggers off for its session either.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from psycopg import sql

ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
# Tables the service must not change, beyond the audit trail's own triggers.
_READ_APPEND_ONLY = ("audit_events",)
_READ_ONLY = ("alembic_version",)


class InvalidRoleName(ValueError):
    """A role name outside `[a-z_][a-z0-9_]{0,62}`."""


@dataclass(frozen=True)
class AppRole:
    name: str
    created: bool  # False: it existed, and its attributes and grants were reset


def create_app_role(conn: Any, name: str, password: str | None) -> AppRole:
    """Create (or reset) the service's login role in the connected database, as its owner.

    `conn` is a psycopg connection in autocommit or inside a transaction the caller commits.
    Grants cover every table and sequence that exists now, and (through default privileges of
    the connected role, which runs migrations) every one that later migrations create.
    """
    if not ROLE_NAME.match(name):
        raise InvalidRoleName(f"role name {name!r} must match {ROLE_NAME.pattern}")
    role = sql.Identifier(name)
    exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone()
    attributes = sql.SQL(
        "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS NOINHERIT"
    )
    verb = sql.SQL("ALTER ROLE" if exists else "CREATE ROLE")
    conn.execute(sql.SQL("{} {} {}").format(verb, role, attributes))
    if password is not None:
        conn.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(role, sql.Literal(password)))
    database = conn.execute("SELECT current_database()").fetchone()[0]
    conn.execute(
        sql.SQL("GRANT CONNECT, TEMPORARY ON DATABASE {} TO {}").format(
            sql.Identifier(database), role
        )
    )
    for statement in _GRANTS:
        conn.execute(sql.SQL(statement).format(role=role))
    return AppRole(name, created=not exists)


def drop_app_role(conn: Any, name: str) -> None:
    """Drop the role after revoking what it was granted in the connected database."""
    if not ROLE_NAME.match(name):
        raise InvalidRoleName(f"role name {name!r} must match {ROLE_NAME.pattern}")
    if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone():
        conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(name)))
        conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))


_TABLES = ", ".join(_READ_APPEND_ONLY + _READ_ONLY)
# Everything, then back off: the audit trail and Alembic's table are read (and the trail
# appended to) only. Default privileges are those of the connected role (the migrator).
_GRANTS = (
    "GRANT USAGE ON SCHEMA public TO {role}",
    "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}",
    f"REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON {_TABLES} FROM {{role}}",
    f"REVOKE INSERT ON {', '.join(_READ_ONLY)} FROM {{role}}",
    "GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO {role}",
    "ALTER DEFAULT PRIVILEGES IN SCHEMA public "
    "GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {role}",
    "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO {role}",
)
