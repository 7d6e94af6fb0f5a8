"""Principals own tokens; approvals bind to the gate evidence.

- `principals` (a person or service account). Every existing token gets the principal named
  like the token (one principal per existing token name, kind `person`, created at the
  token's time, `created_by` = whoever issued the token), so every actor name in the audit
  trail, in requests and in approvals keeps meaning the same identity.
- `api_tokens.principal_id` (not null, indexed).
- `promotion_requests.evidence_sha256`, `promotion_approvals.evidence_sha256`: existing rows
  get `legacy`, which no live binding equals, so a live request re-gates (and its decisions
  lapse) on its next step instead of carrying approvals that never saw the evidence.

Revision ID: 4f6a1c9e2d85
Revises: 7d3c91a2e5b4
Create Date: 2026-12-07 14:27:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "4f6a1c9e2d85"
down_revision: str | None = "7d3c91a2e5b4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "principals",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.CheckConstraint("kind IN ('person', 'service')", name=op.f("ck_principals_kind_known")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_principals")),
        sa.UniqueConstraint("name", name=op.f("uq_principals_name")),
    )
    op.add_column("api_tokens", sa.Column("principal_id", sa.Uuid(), nullable=True))
    op.execute(
        """
        INSERT INTO principals (id, name, kind, created_at, created_by)
        SELECT gen_random_uuid(), t.name, 'person', t.created_at, t.created_by
        FROM api_tokens AS t
        """
    )
    op.execute(
        "UPDATE api_tokens AS t SET principal_id = p.id FROM principals AS p WHERE p.name = t.name"
    )
    op.alter_column("api_tokens", "principal_id", nullable=False)
    op.create_index(op.f("ix_api_tokens_principal_id"), "api_tokens", ["principal_id"])
    op.create_foreign_key(
        op.f("fk_api_tokens_principal_id_principals"),
        "api_tokens",
        "principals",
        ["principal_id"],
        ["id"],
    )
    for table in ("promotion_requests", "promotion_approvals"):
        op.add_column(
            table,
            sa.Column(
                "evidence_sha256", sa.String(length=64), nullable=False, server_default="legacy"
            ),
        )
        op.alter_column(table, "evidence_sha256", server_default=None)


def downgrade() -> None:
    for table in ("promotion_approvals", "promotion_requests"):
        op.drop_column(table, "evidence_sha256")
    op.drop_constraint(
        op.f("fk_api_tokens_principal_id_principals"), "api_tokens", type_="foreignkey"
    )
    op.drop_index(op.f("ix_api_tokens_principal_id"), table_name="api_tokens")
    op.drop_column("api_tokens", "principal_id")
    op.drop_table("principals")
