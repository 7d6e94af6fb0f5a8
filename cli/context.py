"""What every CLI command needs: settings, a database URL, a session factory."""

from __future__ import annotations

import getpass
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import click
import typer
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from core.auth import Principal, Role
from core.db import make_engine, make_session_factory, resolve_database_url
from core.settings import Settings, get_settings


@dataclass
class CliContext:
    settings: Settings

    @cached_property
    def database_url(self) -> str:
        url = resolve_database_url(self.settings)
        if not self.settings.database_url:
            announce_embedded_start(self.settings.embedded_pg_dir)
        return url

    @cached_property
    def engine(self) -> Engine:
        return make_engine(self.database_url)

    @cached_property
    def sessions(self) -> sessionmaker[Session]:
        return make_session_factory(self.engine)

    @property
    def operator(self) -> Principal:
        """A local operator with database access acts as an admin, named in the audit trail."""
        return Principal(name=f"cli:{getpass.getuser()}", role=Role.admin)

    def close(self) -> None:
        """Return the pool's connections to the server; in-process callers run many commands."""
        engine = self.__dict__.get("engine")
        if engine is not None:
            engine.dispose()


def announce_embedded_start(pg_dir: Path) -> None:
    """Say, once per start, that the embedded server outlives the command and how to stop it."""
    from core.embedded import started_by_this_process

    if started_by_this_process(pg_dir):
        typer.echo(
            f"started the embedded PostgreSQL in {pg_dir}; it keeps running for the API and "
            "later commands (`driftgate db stop` stops it)",
            err=True,
        )


def context() -> CliContext:
    """The command's context; its engine is disposed when the click command finishes."""
    cli_context = CliContext(get_settings())
    click_context = click.get_current_context(silent=True)
    if click_context is not None:
        click_context.call_on_close(cli_context.close)
    return cli_context
