"""Profile rollups: 6-hour and week levels, and one compact sketch column.

`sketch_keys` / `sketch_counts` (two int64 arrays, 16 bytes per bucket) become one `sketch`
in `monitors.drift.sketch_codec`'s layout (int32 keys and counts, 8 bytes per bucket), and rows may
now span 6 hours or a week as well as an hour or a day, so a 30-day window reads 4-32 rows per
field instead of 30-75. Rollups are a cache the monitor runner rebuilds (a bounded number of
batches per run, newest first), so the old rows are deleted rather than converted; until they
are rebuilt, drift windows read the batches' own profiles, with the same results.

Revision ID: 52d5ff6fab43
Revises: c01712ca2fff
Create Date: 2026-11-23 22:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "52d5ff6fab43"
down_revision: str | None = "c01712ca2fff"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("DELETE FROM profile_rollups")
    op.drop_column("profile_rollups", "sketch_keys")
    op.drop_column("profile_rollups", "sketch_counts")
    op.add_column("profile_rollups", sa.Column("sketch", sa.LargeBinary(), nullable=True))
    op.create_check_constraint(
        op.f("ck_profile_rollups_level_known"),
        "profile_rollups",
        "level IN ('hour', '6h', 'day', 'week')",
    )


def downgrade() -> None:
    op.execute("DELETE FROM profile_rollups")
    op.drop_constraint(op.f("ck_profile_rollups_level_known"), "profile_rollups", type_="check")
    op.drop_column("profile_rollups", "sketch")
    op.add_column("profile_rollups", sa.Column("sketch_counts", sa.LargeBinary(), nullable=True))
    op.add_column("profile_rollups", sa.Column("sketch_keys", sa.LargeBinary(), nullable=True))
