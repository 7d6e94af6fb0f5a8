"""Run Alembic migrations programmatically (CLI `driftgate migrate`, tests, app start-up)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

import migrations

ROOT = Path(__file__).resolve().parent.parent
MIGRATIONS = Path(migrations.__file__).resolve().parent


def alembic_config(url: str) -> Config:
    """The source tree's alembic.ini when there is one (its logging and revision naming, for
    `alembic revision`); an installed package has only the migrations, which is enough."""
    ini = ROOT / "alembic.ini"
    cfg = Config(str(ini)) if ini.exists() else Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "heads") -> None:
    """Upgrade to every head, so parallel feature branches of the schema both apply."""
    command.upgrade(alembic_config(url), revision)
