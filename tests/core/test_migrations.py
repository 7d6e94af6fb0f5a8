"""Migrations build the whole schema, and the models agree with them."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect

from migrations.metadata import target_metadata


def test_models_and_migrations_agree_with_no_pending_autogenerate_diff(engine: Engine) -> None:
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(ctx, target_metadata)
    assert diff == []


def test_migrations_create_every_table(engine: Engine) -> None:
    tables = set(inspect(engine).get_table_names())
    assert set(target_metadata.tables) <= tables
    assert "alembic_version" in tables


def test_downgrade_to_base_and_back_up_works(committed_db: str) -> None:
    from alembic import command

    from core.migrate import alembic_config

    cfg = alembic_config(committed_db)
    command.downgrade(cfg, "base")
    command.upgrade(cfg, "heads")
