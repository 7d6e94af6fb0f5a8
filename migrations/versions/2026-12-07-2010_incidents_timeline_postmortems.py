"""Incidents: status active → stable → closed, a timeline, postmortems, simulation runs.

- `incidents`: `open` becomes `active` and `resolved` becomes `closed` (with who and when
  kept); new columns for the commander, what else it affects, its runbook, the first bad
  data's time and the stable/closed transitions.
- `incident_events` is the timeline; `(incident_id, source_key)` is unique so the same signal
  (an alert firing, a batch) lands once however often the runner sees it.
- `postmortems` (one row per revision) and their action items. A trigger refuses any UPDATE
  or DELETE of a published revision, so immutability holds for every client of the database,
  not only for the service's own checks.
- `simulation_runs`: simulations asked for through the API, run by the worker.

Revision ID: de94d19f6fad
Revises: 3b8d5e1c7f42
Create Date: 2026-12-07 20:07:57.621240+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "de94d19f6fad"
down_revision: str | None = "3b8d5e1c7f42"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "simulation_runs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("scenario", sa.String(length=60), nullable=False),
        sa.Column("seeds", sa.Integer(), nullable=False),
        sa.Column(
            "params",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("requested_by", sa.String(length=200), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("results", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'succeeded', 'failed')",
            name=op.f("ck_simulation_runs_status_known"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_simulation_runs")),
    )
    op.create_index(
        "ix_simulation_runs_status_requested_at",
        "simulation_runs",
        ["status", "requested_at"],
        unique=False,
    )
    op.create_table(
        "incident_events",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("incident_id", sa.Uuid(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column(
            "details",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("source_key", sa.String(length=300), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            (
                "kind IN ('opened', 'first_bad_batch', 'batch_failed', 'quarantine', "
                "'alert_firing', 'alert_resolved', 'rollback', 'promotion_blocked', "
                "'notification', 'status_change', 'severity_change', 'commander_change', "
                "'affected_change', 'grouped', 'note', 'postmortem')"
            ),
            name=op.f("ck_incident_events_kind_known"),
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name=op.f("fk_incident_events_incident_id_incidents")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_events")),
        sa.UniqueConstraint(
            "incident_id", "source_key", name=op.f("uq_incident_events_incident_id_source_key")
        ),
    )
    op.create_index(
        "ix_incident_events_incident_id_at", "incident_events", ["incident_id", "at"], unique=False
    )
    op.create_table(
        "postmortems",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("incident_id", sa.Uuid(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("supersedes_id", sa.Uuid(), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("summary", sa.Text(), server_default="", nullable=False),
        sa.Column("impact", sa.Text(), server_default="", nullable=False),
        sa.Column("root_causes", sa.Text(), server_default="", nullable=False),
        sa.Column("trigger", sa.Text(), server_default="", nullable=False),
        sa.Column("detection", sa.Text(), server_default="", nullable=False),
        sa.Column("resolution", sa.Text(), server_default="", nullable=False),
        sa.Column(
            "went_well",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "went_badly",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "got_lucky",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "timeline",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "metrics",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("published_by", sa.String(length=200), nullable=True),
        sa.CheckConstraint(
            "status IN ('draft', 'in_review', 'published')",
            name=op.f("ck_postmortems_status_known"),
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name=op.f("fk_postmortems_incident_id_incidents")
        ),
        sa.ForeignKeyConstraint(
            ["supersedes_id"],
            ["postmortems.id"],
            name=op.f("fk_postmortems_supersedes_id_postmortems"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_postmortems")),
        sa.UniqueConstraint(
            "incident_id", "revision", name=op.f("uq_postmortems_incident_id_revision")
        ),
    )
    op.create_table(
        "postmortem_action_items",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("postmortem_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("owner", sa.String(length=200), nullable=False),
        sa.Column("priority", sa.String(length=2), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("due", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.CheckConstraint(
            "priority IN ('P0', 'P1', 'P2', 'P3')",
            name=op.f("ck_postmortem_action_items_priority_known"),
        ),
        sa.CheckConstraint(
            "status IN ('open', 'in_progress', 'done', 'wont_do')",
            name=op.f("ck_postmortem_action_items_status_known"),
        ),
        sa.ForeignKeyConstraint(
            ["postmortem_id"],
            ["postmortems.id"],
            name=op.f("fk_postmortem_action_items_postmortem_id_postmortems"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_postmortem_action_items")),
    )
    op.create_index(
        "ix_postmortem_action_items_status_priority",
        "postmortem_action_items",
        ["status", "priority"],
        unique=False,
    )
    op.add_column(
        "incidents",
        sa.Column(
            "affected",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
    )
    op.add_column("incidents", sa.Column("commander", sa.String(length=200), nullable=True))
    op.add_column("incidents", sa.Column("runbook", sa.String(length=100), nullable=True))
    op.add_column("incidents", sa.Column("first_bad_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("incidents", sa.Column("stable_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("incidents", sa.Column("stable_by", sa.String(length=200), nullable=True))
    op.add_column("incidents", sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("incidents", sa.Column("closed_by", sa.String(length=200), nullable=True))
    op.add_column("incidents", sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_incidents_opened_at", "incidents", ["opened_at"], unique=False)
    op.execute("UPDATE incidents SET closed_at = resolved_at, closed_by = resolved_by")
    op.drop_column("incidents", "resolved_at")
    op.drop_column("incidents", "resolved_by")
    op.drop_constraint(op.f("ck_incidents_status_known"), "incidents", type_="check")
    op.execute(
        "UPDATE incidents SET status = CASE status WHEN 'open' THEN 'active' ELSE 'closed' END"
    )
    op.create_check_constraint(
        op.f("ck_incidents_status_known"), "incidents", "status IN ('active', 'stable', 'closed')"
    )
    op.execute(PUBLISHED_IS_FINAL)
    op.execute(
        "CREATE TRIGGER postmortems_published_is_final BEFORE UPDATE OR DELETE ON postmortems "
        "FOR EACH ROW EXECUTE FUNCTION postmortems_published_is_final()"
    )


PUBLISHED_IS_FINAL = """
CREATE FUNCTION postmortems_published_is_final() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF OLD.status = 'published' THEN
    RAISE EXCEPTION 'postmortem % revision % is published and cannot change', OLD.incident_id,
      OLD.revision USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END $$
"""


def downgrade() -> None:
    op.execute("DROP TRIGGER postmortems_published_is_final ON postmortems")
    op.execute("DROP FUNCTION postmortems_published_is_final()")
    op.add_column(
        "incidents",
        sa.Column("resolved_by", sa.VARCHAR(length=200), autoincrement=False, nullable=True),
    )
    op.add_column(
        "incidents",
        sa.Column(
            "resolved_at", postgresql.TIMESTAMP(timezone=True), autoincrement=False, nullable=True
        ),
    )
    op.execute("UPDATE incidents SET resolved_at = closed_at, resolved_by = closed_by")
    op.drop_constraint(op.f("ck_incidents_status_known"), "incidents", type_="check")
    op.execute(
        "UPDATE incidents SET status = CASE status WHEN 'closed' THEN 'resolved' ELSE 'open' END"
    )
    op.create_check_constraint(
        op.f("ck_incidents_status_known"), "incidents", "status IN ('open', 'resolved')"
    )
    op.drop_index("ix_incidents_opened_at", table_name="incidents")
    op.drop_column("incidents", "updated_at")
    op.drop_column("incidents", "closed_by")
    op.drop_column("incidents", "closed_at")
    op.drop_column("incidents", "stable_by")
    op.drop_column("incidents", "stable_at")
    op.drop_column("incidents", "first_bad_at")
    op.drop_column("incidents", "runbook")
    op.drop_column("incidents", "commander")
    op.drop_column("incidents", "affected")
    op.drop_index(
        "ix_postmortem_action_items_status_priority", table_name="postmortem_action_items"
    )
    op.drop_table("postmortem_action_items")
    op.drop_table("postmortems")
    op.drop_index("ix_incident_events_incident_id_at", table_name="incident_events")
    op.drop_table("incident_events")
    op.drop_index("ix_simulation_runs_status_requested_at", table_name="simulation_runs")
    op.drop_table("simulation_runs")
