"""What every CLI command needs: settings, a database URL, a session factory."""

from __future__ import annotations

import getpass
from dataclasses import dataclass
from functools import cached_property

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
        return resolve_database_url(self.settings)

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


def context() -> CliContext:
    return CliContext(get_settings())
