"""Audit triggers fire ALWAYS: `session_replication_role = replica` no longer skips them.

Ordinary triggers do not fire in a session whose `session_replication_role` is `replica`
(what logical replication and some restore tools set). A role that may set it could then
UPDATE or DELETE audit events without touching the table's DDL. Triggers enabled ALWAYS
fire in every mode; turning them off again takes ALTER TABLE, i.e. owning the table.

Revision ID: 7d3c91a2e5b4
Revises: 8e1f4a2b9c30
Create Date: 2026-12-07 14:26:00+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "7d3c91a2e5b4"
down_revision: str | None = "8e1f4a2b9c30"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TRIGGERS = ("audit_events_no_update_delete", "audit_events_no_truncate")


def upgrade() -> None:
    for trigger in _TRIGGERS:
        op.execute(f"ALTER TABLE audit_events ENABLE ALWAYS TRIGGER {trigger}")


def downgrade() -> None:
    for trigger in _TRIGGERS:
        op.execute(f"ALTER TABLE audit_events ENABLE TRIGGER {trigger}")
