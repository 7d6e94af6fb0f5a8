"""Model quality: when each window's realized AUC became known, and when it turned mature.

The realized-AUC SLO counts a window's event at the moment its AUC first became available
(labels arrive hours after the window), not at the window's end. Rows that already have an
AUC keep the time the SLO counted them at before (their window end), so the upgrade moves
no past event and pages nothing about history; windows that get their AUC later are stamped
by the quality runner then.

Revision ID: 3f8b2c6d9e71
Revises: 7c1e5a9d2b40
Create Date: 2026-12-07 23:30:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3f8b2c6d9e71"
down_revision: str | None = "7c1e5a9d2b40"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for column in ("auc_known_at", "mature_at"):
        op.add_column(
            "model_quality_windows", sa.Column(column, sa.DateTime(timezone=True), nullable=True)
        )
    op.execute(
        "UPDATE model_quality_windows SET auc_known_at = window_end, "
        "mature_at = CASE WHEN status = 'mature' THEN window_end END "
        "WHERE auc IS NOT NULL"
    )


def downgrade() -> None:
    op.drop_column("model_quality_windows", "mature_at")
    op.drop_column("model_quality_windows", "auc_known_at")
