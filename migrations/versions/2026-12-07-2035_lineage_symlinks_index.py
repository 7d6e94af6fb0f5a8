"""Lineage: a partial index on the `symlinks` dataset facets.

A dataset named in another's `symlinks` facet is the same graph node (as in Marquez). Every
job-graph walk reads the (primary, alias) pairs from those facets; this index keeps that read
to the symlinks facets alone instead of every dataset facet.

Revision ID: 7c1e5a9d2b40
Revises: de94d19f6fad
Create Date: 2026-12-07 20:35:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "7c1e5a9d2b40"
down_revision: str | None = "de94d19f6fad"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_lineage_facets_symlinks",
        "lineage_facets",
        ["owner_id"],
        postgresql_where=sa.text("owner_kind = 'dataset' AND name = 'symlinks'"),
    )


def downgrade() -> None:
    op.drop_index("ix_lineage_facets_symlinks", table_name="lineage_facets")
