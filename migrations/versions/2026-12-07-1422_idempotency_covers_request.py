"""An idempotency key covers the requested contract version and the body format too.

A replay with the same key but another `version` (or the same bytes sent as another format)
would change the outcome, so both are stored with the key and compared on replay. Existing
keys keep NULL in both and are matched on body and contract as before.

Revision ID: 8e1f4a2b9c30
Revises: 5d2a9c7e4b13
Create Date: 2026-12-07 14:22:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "8e1f4a2b9c30"
down_revision: str | None = "5d2a9c7e4b13"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "idempotency_keys", sa.Column("requested_version", sa.String(length=100), nullable=True)
    )
    op.add_column(
        "idempotency_keys", sa.Column("body_format", sa.String(length=20), nullable=True)
    )


def downgrade() -> None:
    op.drop_column("idempotency_keys", "body_format")
    op.drop_column("idempotency_keys", "requested_version")
