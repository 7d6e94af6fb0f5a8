"""Profile rollups: minute and 10-minute levels.

A window's edges are now tiled down to whole minutes (`monitors.drift.buckets`), so with minute-level
batches an unaligned window reads at most 2 x (9 + 5) sub-hour rollup rows per field at its
edges instead of up to ~118 batches' JSON profiles. Existing rows stay valid (they still match
their batches); the runner builds the new levels newest first, rebuilding each hour from its
10-minute rollups.

Revision ID: 7c4e2b9d1a30
Revises: 52d5ff6fab43
Create Date: 2026-11-23 23:30:00.000000+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "7c4e2b9d1a30"
down_revision: str | None = "52d5ff6fab43"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_constraint(op.f("ck_profile_rollups_level_known"), "profile_rollups", type_="check")
    op.create_check_constraint(
        op.f("ck_profile_rollups_level_known"),
        "profile_rollups",
        "level IN ('min', '10m', 'hour', '6h', 'day', 'week')",
    )


def downgrade() -> None:
    op.execute("DELETE FROM profile_rollups WHERE level IN ('min', '10m')")
    op.drop_constraint(op.f("ck_profile_rollups_level_known"), "profile_rollups", type_="check")
    op.create_check_constraint(
        op.f("ck_profile_rollups_level_known"),
        "profile_rollups",
        "level IN ('hour', '6h', 'day', 'week')",
    )
