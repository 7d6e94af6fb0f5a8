"""Reference coverage and seasonality: what a reference covers, its hourly slices, retirement.

A reference now says how many batches it covers and the arrivals of its first and last batch
(existing rows are filled from their `batch_ids`), keeps per-hour slices when the contract asks
for seasonality, and can be retired when it no longer applies and nothing replaces it yet.

Revision ID: 5d2a9c7e4b13
Revises: 3b8f1d6c2a47
Create Date: 2026-12-07 14:25:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "5d2a9c7e4b13"
down_revision: str | None = "3b8f1d6c2a47"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "monitor_references",
        sa.Column("batch_count", sa.Integer(), nullable=False, server_default="0"),
    )
    op.add_column(
        "monitor_references",
        sa.Column("first_batch_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.add_column(
        "monitor_references",
        sa.Column("last_batch_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.add_column(
        "monitor_references", sa.Column("seasonality", sa.String(length=20), nullable=True)
    )
    op.add_column(
        "monitor_references",
        sa.Column("slices", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    )
    op.add_column(
        "monitor_references",
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.add_column(
        "monitor_references",
        sa.Column("retired_reason", sa.String(length=500), nullable=True),
    )
    op.execute("UPDATE monitor_references SET batch_count = jsonb_array_length(batch_ids)")
    op.execute(
        """
        UPDATE monitor_references r SET first_batch_at = s.first, last_batch_at = s.last
        FROM (
          SELECT r2.id, min(b.received_at) AS first, max(b.received_at) AS last
          FROM monitor_references r2
          CROSS JOIN LATERAL jsonb_array_elements_text(r2.batch_ids) e(batch_id)
          JOIN batches b ON b.id = e.batch_id::uuid
          GROUP BY r2.id
        ) s
        WHERE s.id = r.id
        """
    )
    op.alter_column("monitor_references", "batch_count", server_default=None)


def downgrade() -> None:
    for column in (
        "retired_reason",
        "retired_at",
        "slices",
        "seasonality",
        "last_batch_at",
        "first_batch_at",
        "batch_count",
    ):
        op.drop_column("monitor_references", column)
