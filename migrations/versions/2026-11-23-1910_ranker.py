"""Ranker and registry: feed runs, prediction log, delayed labels, model versions, aliases.

Model versions are immutable: a trigger refuses UPDATE and DELETE (it binds the owner too).

Revision ID: 72b71cb8fd8d
Revises: 4af3fcbfd7c8
Create Date: 2026-11-23 19:10:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '72b71cb8fd8d'
down_revision: str | None = '4af3fcbfd7c8'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('feed_runs',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('config', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('origin', sa.DateTime(timezone=True), nullable=False),
    sa.Column('window_start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('window_end', sa.DateTime(timezone=True), nullable=False),
    sa.Column('batch_ids', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('batches_rejected', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_feed_runs'))
    )
    op.create_table('predictions',
    sa.Column('prediction_id', sa.Uuid(), nullable=False),
    sa.Column('request_id', sa.Uuid(), nullable=False),
    sa.Column('served_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('model_name', sa.String(length=100), nullable=False),
    sa.Column('model_version', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.String(length=200), nullable=False),
    sa.Column('item_id', sa.String(length=200), nullable=False),
    sa.Column('position', sa.SmallInteger(), nullable=False),
    sa.Column('score', sa.REAL(), nullable=False),
    sa.Column('surface', sa.String(length=20), nullable=True),
    sa.Column('device', sa.String(length=20), nullable=True),
    sa.Column('country', sa.String(length=20), nullable=True),
    sa.Column('hour', sa.SmallInteger(), nullable=False),
    sa.Column('features', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('prediction_id', name=op.f('pk_predictions'))
    )
    op.create_index('ix_predictions_model_served', 'predictions', ['model_name', 'model_version', 'served_at'], unique=False)
    op.create_table('registered_models',
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('description', sa.String(length=2000), nullable=False),
    sa.Column('latest_version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_registered_models'))
    )
    op.create_table('model_versions',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('model_name', sa.String(length=100), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('artifact_uri', sa.String(length=1000), nullable=False),
    sa.Column('artifact_sha256', sa.String(length=64), nullable=False),
    sa.Column('artifact_bytes', sa.BigInteger(), nullable=False),
    sa.Column('signature', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('metrics', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('training_data', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('contract_versions', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('params', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('description', sa.String(length=2000), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['model_name'], ['registered_models.name'], name=op.f('fk_model_versions_model_name_registered_models')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_model_versions')),
    sa.UniqueConstraint('model_name', 'artifact_sha256', name=op.f('uq_model_versions_model_name_artifact_sha256')),
    sa.UniqueConstraint('model_name', 'version', name=op.f('uq_model_versions_model_name_version'))
    )
    op.create_table('prediction_labels',
    sa.Column('prediction_id', sa.Uuid(), nullable=False),
    sa.Column('clicked', sa.Boolean(), nullable=False),
    sa.Column('dwell_ms', sa.Float(), nullable=True),
    sa.Column('label_time', sa.DateTime(timezone=True), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('received_by', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['prediction_id'], ['predictions.prediction_id'], name=op.f('fk_prediction_labels_prediction_id_predictions')),
    sa.PrimaryKeyConstraint('prediction_id', name=op.f('pk_prediction_labels'))
    )
    op.create_index(op.f('ix_prediction_labels_label_time'), 'prediction_labels', ['label_time'], unique=False)
    op.create_table('model_aliases',
    sa.Column('model_name', sa.String(length=100), nullable=False),
    sa.Column('alias', sa.String(length=50), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=2000), nullable=False),
    sa.Column('set_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('set_by', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['model_name', 'version'], ['model_versions.model_name', 'model_versions.version'], name='fk_model_aliases_version_model_versions'),
    sa.ForeignKeyConstraint(['model_name'], ['registered_models.name'], name=op.f('fk_model_aliases_model_name_registered_models')),
    sa.PrimaryKeyConstraint('model_name', 'alias', name=op.f('pk_model_aliases'))
    )
    op.execute(
        """
        CREATE FUNCTION model_versions_immutable() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'model_versions are immutable: % is not allowed', TG_OP
                USING ERRCODE = 'integrity_constraint_violation';
        END;
        $$
        """
    )
    op.execute(
        "CREATE TRIGGER model_versions_no_update_delete BEFORE UPDATE OR DELETE ON model_versions "
        "FOR EACH ROW EXECUTE FUNCTION model_versions_immutable()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS model_versions_no_update_delete ON model_versions")
    op.execute("DROP FUNCTION IF EXISTS model_versions_immutable()")
    op.drop_table('model_aliases')
    op.drop_index(op.f('ix_prediction_labels_label_time'), table_name='prediction_labels')
    op.drop_table('prediction_labels')
    op.drop_table('model_versions')
    op.drop_table('registered_models')
    op.drop_index('ix_predictions_model_served', table_name='predictions')
    op.drop_table('predictions')
    op.drop_table('feed_runs')
