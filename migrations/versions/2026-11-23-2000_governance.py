"""Governance: promotion policies, requests, approvals, champion history; incidents (seed).

- `promotion_requests` allows one open (or approved, not yet promoted) request per model
  version through a partial unique index, so two racing requests cannot both open.
- `promotion_approvals` allows one live decision per reviewer and request through a partial
  unique index (voided decisions do not count), so a reviewer decides once per binding.
- `champion_changes` starts with the champion each model has today, so rollback has a
  baseline on an existing install.
- `incidents` is the seed of the incidents domain (bake-guard rollbacks, promotion gate).

Revision ID: c01712ca2fff
Revises: 51d2c45b7ae1
Create Date: 2026-11-23 20:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = 'c01712ca2fff'
down_revision: str | None = '51d2c45b7ae1'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('incidents',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('title', sa.String(length=500), nullable=False),
    sa.Column('severity', sa.String(length=10), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('source', sa.String(length=50), nullable=False),
    sa.Column('datasets', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'::jsonb"), nullable=False),
    sa.Column('model_name', sa.String(length=100), nullable=True),
    sa.Column('model_version', sa.Integer(), nullable=True),
    sa.Column('details', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('notifications', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'::jsonb"), nullable=False),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('opened_by', sa.String(length=200), nullable=False),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolved_by', sa.String(length=200), nullable=True),
    sa.CheckConstraint("severity IN ('critical', 'major', 'minor')", name=op.f('ck_incidents_severity_known')),
    sa.CheckConstraint("status IN ('open', 'resolved')", name=op.f('ck_incidents_status_known')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_incidents'))
    )
    op.create_index('ix_incidents_datasets', 'incidents', ['datasets'], unique=False, postgresql_using='gin', postgresql_ops={'datasets': 'jsonb_ops'})
    op.create_index('ix_incidents_status_severity', 'incidents', ['status', 'severity'], unique=False)
    op.create_table('promotion_policies',
    sa.Column('version', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('source', sa.Text(), nullable=False),
    sa.Column('document', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('comment', sa.String(length=2000), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.PrimaryKeyConstraint('version', name=op.f('pk_promotion_policies'))
    )
    op.create_table('promotion_requests',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('model_name', sa.String(length=100), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('justification', sa.String(length=4000), nullable=False),
    sa.Column('requested_by', sa.String(length=200), nullable=False),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version_created_by', sa.String(length=200), nullable=False),
    sa.Column('artifact_sha256', sa.String(length=64), nullable=False),
    sa.Column('metrics_sha256', sa.String(length=64), nullable=False),
    sa.Column('policy_version', sa.Integer(), nullable=False),
    sa.Column('champion_version', sa.Integer(), nullable=True),
    sa.Column('quorum', sa.Integer(), nullable=False),
    sa.Column('auto_promote', sa.Boolean(), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('gates', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('blocking_gates', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('gates_evaluated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('evaluation', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('override', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decided_by', sa.String(length=200), nullable=True),
    sa.Column('promoted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('promoted_by', sa.String(length=200), nullable=True),
    sa.Column('previous_version', sa.Integer(), nullable=True),
    sa.Column('bake_state', sa.String(length=20), nullable=True),
    sa.Column('bake_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('bake_result', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("bake_state IS NULL OR bake_state IN ('baking', 'confirmed', 'rolled_back', 'superseded')", name=op.f('ck_promotion_requests_bake_state_known')),
    sa.CheckConstraint("state IN ('open', 'approved', 'rejected', 'expired', 'withdrawn', 'promoted')", name=op.f('ck_promotion_requests_state_known')),
    sa.CheckConstraint('quorum >= 1', name=op.f('ck_promotion_requests_quorum_positive')),
    sa.ForeignKeyConstraint(['model_name', 'version'], ['model_versions.model_name', 'model_versions.version'], name='fk_promotion_requests_version_model_versions'),
    sa.ForeignKeyConstraint(['model_name'], ['registered_models.name'], name=op.f('fk_promotion_requests_model_name_registered_models')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_promotion_requests'))
    )
    op.create_index('ix_promotion_requests_baking', 'promotion_requests', ['bake_state'], unique=False, postgresql_where=sa.text("bake_state = 'baking'"))
    op.create_index('ix_promotion_requests_model_requested', 'promotion_requests', ['model_name', 'requested_at'], unique=False)
    op.create_index('uq_promotion_requests_active_version', 'promotion_requests', ['model_name', 'version'], unique=True, postgresql_where=sa.text("state IN ('open', 'approved')"))
    op.create_table('champion_changes',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('model_name', sa.String(length=100), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('previous_version', sa.Integer(), nullable=True),
    sa.Column('via', sa.String(length=20), nullable=False),
    sa.Column('request_id', sa.Uuid(), nullable=True),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('reason', sa.String(length=4000), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("via IN ('set', 'promote', 'rollback', 'auto_rollback')", name=op.f('ck_champion_changes_via_known')),
    sa.ForeignKeyConstraint(['model_name'], ['registered_models.name'], name=op.f('fk_champion_changes_model_name_registered_models')),
    sa.ForeignKeyConstraint(['request_id'], ['promotion_requests.id'], name=op.f('fk_champion_changes_request_id_promotion_requests')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_champion_changes'))
    )
    op.create_index('ix_champion_changes_model_id', 'champion_changes', ['model_name', 'id'], unique=False)
    op.create_table('promotion_approvals',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('request_id', sa.Uuid(), nullable=False),
    sa.Column('reviewer', sa.String(length=200), nullable=False),
    sa.Column('decision', sa.String(length=10), nullable=False),
    sa.Column('comment', sa.String(length=4000), nullable=False),
    sa.Column('artifact_sha256', sa.String(length=64), nullable=False),
    sa.Column('metrics_sha256', sa.String(length=64), nullable=False),
    sa.Column('policy_version', sa.Integer(), nullable=False),
    sa.Column('champion_version', sa.Integer(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('voided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('void_reason', sa.String(length=1000), nullable=True),
    sa.CheckConstraint("decision IN ('approve', 'reject')", name=op.f('ck_promotion_approvals_decision_known')),
    sa.ForeignKeyConstraint(['request_id'], ['promotion_requests.id'], name=op.f('fk_promotion_approvals_request_id_promotion_requests')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_promotion_approvals'))
    )
    op.create_index(op.f('ix_promotion_approvals_request_id'), 'promotion_approvals', ['request_id'], unique=False)
    op.create_index('uq_promotion_approvals_live_reviewer', 'promotion_approvals', ['request_id', 'reviewer'], unique=True, postgresql_where=sa.text('voided_at IS NULL'))
    # The champion each model has today is the bottom of its rollback stack.
    op.execute(
        """
        INSERT INTO champion_changes (model_name, version, previous_version, via, request_id,
                                      actor, reason, at)
        SELECT model_name, version, NULL, 'set', NULL, set_by, reason, set_at
        FROM model_aliases WHERE alias = 'champion' ORDER BY set_at
        """
    )


def downgrade() -> None:
    op.drop_index('uq_promotion_approvals_live_reviewer', table_name='promotion_approvals', postgresql_where=sa.text('voided_at IS NULL'))
    op.drop_index(op.f('ix_promotion_approvals_request_id'), table_name='promotion_approvals')
    op.drop_table('promotion_approvals')
    op.drop_index('ix_champion_changes_model_id', table_name='champion_changes')
    op.drop_table('champion_changes')
    op.drop_index('uq_promotion_requests_active_version', table_name='promotion_requests', postgresql_where=sa.text("state IN ('open', 'approved')"))
    op.drop_index('ix_promotion_requests_model_requested', table_name='promotion_requests')
    op.drop_index('ix_promotion_requests_baking', table_name='promotion_requests', postgresql_where=sa.text("bake_state = 'baking'"))
    op.drop_table('promotion_requests')
    op.drop_table('promotion_policies')
    op.drop_index('ix_incidents_status_severity', table_name='incidents')
    op.drop_index('ix_incidents_datasets', table_name='incidents', postgresql_using='gin', postgresql_ops={'datasets': 'jsonb_ops'})
    op.drop_table('incidents')
