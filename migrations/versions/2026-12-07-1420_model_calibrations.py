"""Model calibrations: the isotonic score calibration of each model version.

The label-free quality estimate (CBPE) assumes calibrated scores; each model version's
calibration is fitted on the labelled predictions of its reference window (its first
`monitor_calibration_window` of serving) and stored here, one row per version.

Revision ID: 3b8f1d6c2a47
Revises: 7c4e2b9d1a30
Create Date: 2026-12-07 14:20:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "3b8f1d6c2a47"
down_revision: str | None = "7c4e2b9d1a30"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "model_calibrations",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("model_name", sa.String(length=100), nullable=False),
        sa.Column("model_version", sa.Integer(), nullable=False),
        sa.Column("method", sa.String(length=20), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("window_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("predictions", sa.BigInteger(), nullable=False),
        sa.Column("labeled", sa.BigInteger(), nullable=False),
        sa.Column("positives", sa.BigInteger(), nullable=False),
        sa.Column("last_label_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sampled", sa.BigInteger(), nullable=False),
        sa.Column("knots", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("fit", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("fitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_calibrations")),
        sa.UniqueConstraint(
            "model_name",
            "model_version",
            name=op.f("uq_model_calibrations_model_name_model_version"),
        ),
    )


def downgrade() -> None:
    op.drop_table("model_calibrations")
