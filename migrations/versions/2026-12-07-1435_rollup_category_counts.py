"""Profile rollups: drop categorical rows written as top-k maps, so they rebuild with bounds.

Rollup rows written before exact category counts hold a flat category → count map with the
batches' tails summed under `__other__`. Read as they are, the only undercount bound they
still support is that whole tail; rebuilt from the batches' stored profiles, each batch
contributes its own tighter bound (its 20th count at most), and batches profiled since then
contribute exact counts. Rollups are a cache: windows fall back to finer rollups or batch
profiles meanwhile, with the same results, and the runner rebuilds the missing rows.

Revision ID: 3b8d5e1c7f42
Revises: 4f6a1c9e2d85
Create Date: 2026-12-07 14:35:00.000000+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "3b8d5e1c7f42"
down_revision: str | None = "4f6a1c9e2d85"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # a bucket must have a row for every field to be used, so drop its other fields' rows too
    op.execute(
        """
        DELETE FROM profile_rollups r USING (
          SELECT DISTINCT contract_id, level, bucket_start FROM profile_rollups
          WHERE categories IS NOT NULL AND NOT (categories ? 'counts')
        ) old
        WHERE r.contract_id = old.contract_id AND r.level = old.level
          AND r.bucket_start = old.bucket_start
        """
    )


def downgrade() -> None:
    # the code before this revision would read a `counts` document as a map of categories
    # named counts, other, error…: drop those rows, the old runner rebuilds them its way
    op.execute("DELETE FROM profile_rollups WHERE categories ? 'counts'")
