"""initial schema

Revision ID: a82c08470598
Revises: 
Create Date: 2026-11-26 16:54:04.357885
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.base

revision: str = 'a82c08470598'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('clinic',
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_clinic'))
    )
    op.create_table('api_key',
    sa.Column('clinic_id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('role', sa.Enum('admin', 'ehr', 'staff', 'viewer', name='api_key_role', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('revoked_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['clinic_id'], ['clinic.id'], name=op.f('fk_api_key_clinic_id_clinic')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_key')),
    sa.UniqueConstraint('key_hash', name=op.f('uq_api_key_key_hash'))
    )
    with op.batch_alter_table('api_key', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_key_clinic_id'), ['clinic_id'], unique=False)

    op.create_table('outbox_event',
    sa.Column('clinic_id', sa.Uuid(), nullable=False),
    sa.Column('type', sa.String(length=64), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['clinic_id'], ['clinic.id'], name=op.f('fk_outbox_event_clinic_id_clinic')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox_event'))
    )
    with op.batch_alter_table('outbox_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outbox_event_clinic_id'), ['clinic_id'], unique=False)

    op.create_table('patient',
    sa.Column('clinic_id', sa.Uuid(), nullable=False),
    sa.Column('mrn', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=True),
    sa.Column('birth_date', sa.Date(), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['clinic_id'], ['clinic.id'], name=op.f('fk_patient_clinic_id_clinic')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_patient')),
    sa.UniqueConstraint('clinic_id', 'mrn', name=op.f('uq_patient_clinic_id_mrn'))
    )
    with op.batch_alter_table('patient', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_patient_clinic_id'), ['clinic_id'], unique=False)

    op.create_table('webhook_subscription',
    sa.Column('clinic_id', sa.Uuid(), nullable=False),
    sa.Column('url', sa.String(length=2000), nullable=False),
    sa.Column('events', sa.JSON(), nullable=False),
    sa.Column('secret', sa.String(length=100), nullable=False),
    sa.Column('deleted_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['clinic_id'], ['clinic.id'], name=op.f('fk_webhook_subscription_clinic_id_clinic')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_subscription'))
    )
    with op.batch_alter_table('webhook_subscription', schema=None) as batch_op:
        batch_op.create_index('ix_webhook_subscription_clinic', ['clinic_id'], unique=False)

    op.create_table('audit_event',
    sa.Column('clinic_id', sa.Uuid(), nullable=False),
    sa.Column('at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor_key_id', sa.Uuid(), nullable=True),
    sa.Column('actor_name', sa.String(length=200), nullable=True),
    sa.Column('role', sa.String(length=16), nullable=True),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('resource_type', sa.String(length=32), nullable=False),
    sa.Column('resource_id', sa.String(length=64), nullable=True),
    sa.Column('result_ids', sa.JSON(), nullable=True),
    sa.Column('request_id', sa.String(length=200), nullable=True),
    sa.Column('client_addr', sa.String(length=64), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['actor_key_id'], ['api_key.id'], name=op.f('fk_audit_event_actor_key_id_api_key')),
    sa.ForeignKeyConstraint(['clinic_id'], ['clinic.id'], name=op.f('fk_audit_event_clinic_id_clinic')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_event'))
    )
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.create_index('ix_audit_event_actor', ['clinic_id', 'actor_key_id', 'at'], unique=False)
        batch_op.create_index('ix_audit_event_clinic_at', ['clinic_id', 'at', 'id'], unique=False)
        batch_op.create_index('ix_audit_event_resource', ['clinic_id', 'resource_type', 'resource_id'], unique=False)

    op.create_table('block',
    sa.Column('clinic_id', sa.Uuid(), nullable=False),
    sa.Column('patient_id', sa.Uuid(), nullable=False),
    sa.Column('performed_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('procedure', sa.Enum('medial_branch_block', 'intra_articular_injection', name='block_procedure', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('intent', sa.Enum('diagnostic', 'therapeutic', name='block_intent', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('agent', sa.Enum('lidocaine', 'bupivacaine', 'ropivacaine', 'saline_placebo', 'other', name='block_agent', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('expected_relief_minutes', sa.Integer(), nullable=True),
    sa.Column('concentration_pct', sa.Numeric(precision=6, scale=3), nullable=True),
    sa.Column('volume_ml_per_nerve', sa.Numeric(precision=6, scale=3), nullable=True),
    sa.Column('sedation', sa.Enum('none', 'minimal', 'moderate', 'monitored_anesthesia_care', 'general', name='block_sedation', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('guidance', sa.Enum('fluoroscopy', 'ct', 'ultrasound', 'none', name='block_guidance', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('pain_scale', sa.Enum('nrs', 'vas', name='block_pain_scale', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('status', sa.Enum('active', 'entered_in_error', name='block_status', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('void_reason', sa.Text(), nullable=True),
    sa.Column('voided_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_by_key_id', sa.Uuid(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('external_id', sa.String(length=200), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("agent <> 'other' OR expected_relief_minutes IS NOT NULL", name=op.f('ck_block_other_needs_minutes')),
    sa.ForeignKeyConstraint(['clinic_id'], ['clinic.id'], name=op.f('fk_block_clinic_id_clinic')),
    sa.ForeignKeyConstraint(['created_by_key_id'], ['api_key.id'], name=op.f('fk_block_created_by_key_id_api_key')),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], name=op.f('fk_block_patient_id_patient')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_block'))
    )
    with op.batch_alter_table('block', schema=None) as batch_op:
        batch_op.create_index('ix_block_clinic_patient_performed', ['clinic_id', 'patient_id', 'performed_at'], unique=False)

    op.create_table('idempotency_record',
    sa.Column('api_key_id', sa.Uuid(), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('method', sa.String(length=8), nullable=False),
    sa.Column('path', sa.String(length=500), nullable=False),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.Column('state', sa.Enum('in_flight', 'completed', name='idempotency_state', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('response_status', sa.Integer(), nullable=True),
    sa.Column('response_body', sa.String(), nullable=True),
    sa.Column('response_headers', sa.JSON(), nullable=True),
    sa.Column('completed_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['api_key_id'], ['api_key.id'], name=op.f('fk_idempotency_record_api_key_id_api_key')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_idempotency_record')),
    sa.UniqueConstraint('api_key_id', 'key', name=op.f('uq_idempotency_record_api_key_id_key'))
    )
    with op.batch_alter_table('idempotency_record', schema=None) as batch_op:
        batch_op.create_index('ix_idempotency_record_created', ['created_at'], unique=False)

    op.create_table('level',
    sa.Column('clinic_id', sa.Uuid(), nullable=False),
    sa.Column('patient_id', sa.Uuid(), nullable=False),
    sa.Column('joint', sa.String(length=8), nullable=False),
    sa.Column('side', sa.Enum('left', 'right', name='level_side', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('region', sa.Enum('cervical', 'thoracic', 'lumbar', name='level_region', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('status', sa.Enum('no_blocks', 'pending', 'awaiting_confirmation', 'referral_recommended', 'not_indicated', name='level_status', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('qualifying_block_ids', sa.JSON(), nullable=False),
    sa.Column('reasons', sa.JSON(), nullable=False),
    sa.Column('warnings', sa.JSON(), nullable=False),
    sa.Column('policy_version', sa.Integer(), nullable=False),
    sa.Column('updated_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['clinic_id'], ['clinic.id'], name=op.f('fk_level_clinic_id_clinic')),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], name=op.f('fk_level_patient_id_patient')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_level')),
    sa.UniqueConstraint('patient_id', 'joint', 'side', name=op.f('uq_level_patient_id_joint_side'))
    )
    with op.batch_alter_table('level', schema=None) as batch_op:
        batch_op.create_index('ix_level_clinic_patient', ['clinic_id', 'patient_id'], unique=False)

    op.create_table('policy_version',
    sa.Column('clinic_id', sa.Uuid(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('profile', sa.String(length=16), nullable=False),
    sa.Column('settings', sa.JSON(), nullable=False),
    sa.Column('created_by_key_id', sa.Uuid(), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['clinic_id'], ['clinic.id'], name=op.f('fk_policy_version_clinic_id_clinic')),
    sa.ForeignKeyConstraint(['created_by_key_id'], ['api_key.id'], name=op.f('fk_policy_version_created_by_key_id_api_key')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_policy_version')),
    sa.UniqueConstraint('clinic_id', 'version', name=op.f('uq_policy_version_clinic_id_version'))
    )
    op.create_table('webhook_delivery',
    sa.Column('clinic_id', sa.Uuid(), nullable=False),
    sa.Column('subscription_id', sa.Uuid(), nullable=False),
    sa.Column('event_id', sa.Uuid(), nullable=False),
    sa.Column('state', sa.Enum('pending', 'succeeded', 'failed', name='webhook_delivery_state', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('attempt_count', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('give_up_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_status_code', sa.Integer(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('locked_until', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['clinic_id'], ['clinic.id'], name=op.f('fk_webhook_delivery_clinic_id_clinic')),
    sa.ForeignKeyConstraint(['event_id'], ['outbox_event.id'], name=op.f('fk_webhook_delivery_event_id_outbox_event')),
    sa.ForeignKeyConstraint(['subscription_id'], ['webhook_subscription.id'], name=op.f('fk_webhook_delivery_subscription_id_webhook_subscription')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_delivery'))
    )
    with op.batch_alter_table('webhook_delivery', schema=None) as batch_op:
        batch_op.create_index('ix_webhook_delivery_due', ['state', 'next_attempt_at'], unique=False)
        batch_op.create_index('ix_webhook_delivery_subscription', ['subscription_id', 'created_at'], unique=False)

    op.create_table('block_outcome',
    sa.Column('block_id', sa.Uuid(), nullable=False),
    sa.Column('clinic_id', sa.Uuid(), nullable=False),
    sa.Column('policy_profile', sa.String(length=16), nullable=False),
    sa.Column('policy_version', sa.Integer(), nullable=False),
    sa.Column('threshold_pct', sa.Integer(), nullable=False),
    sa.Column('warnings', sa.JSON(), nullable=False),
    sa.Column('computed_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['block_id'], ['block.id'], name=op.f('fk_block_outcome_block_id_block')),
    sa.ForeignKeyConstraint(['clinic_id'], ['clinic.id'], name=op.f('fk_block_outcome_clinic_id_clinic')),
    sa.PrimaryKeyConstraint('block_id', name=op.f('pk_block_outcome'))
    )
    op.create_table('block_target',
    sa.Column('clinic_id', sa.Uuid(), nullable=False),
    sa.Column('patient_id', sa.Uuid(), nullable=False),
    sa.Column('block_id', sa.Uuid(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('joint', sa.String(length=8), nullable=False),
    sa.Column('side', sa.Enum('left', 'right', name='target_side', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('region', sa.Enum('cervical', 'thoracic', 'lumbar', name='target_region', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['block_id'], ['block.id'], name=op.f('fk_block_target_block_id_block')),
    sa.ForeignKeyConstraint(['clinic_id'], ['clinic.id'], name=op.f('fk_block_target_clinic_id_clinic')),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], name=op.f('fk_block_target_patient_id_patient')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_block_target')),
    sa.UniqueConstraint('block_id', 'joint', 'side', name=op.f('uq_block_target_block_id_joint_side'))
    )
    with op.batch_alter_table('block_target', schema=None) as batch_op:
        batch_op.create_index('ix_block_target_level', ['clinic_id', 'patient_id', 'joint', 'side'], unique=False)

    op.create_table('referral',
    sa.Column('clinic_id', sa.Uuid(), nullable=False),
    sa.Column('patient_id', sa.Uuid(), nullable=False),
    sa.Column('level_id', sa.Uuid(), nullable=False),
    sa.Column('joint', sa.String(length=8), nullable=False),
    sa.Column('side', sa.Enum('left', 'right', name='referral_side', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('region', sa.Enum('cervical', 'thoracic', 'lumbar', name='referral_region', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('status', sa.Enum('open', 'acknowledged', 'withdrawn', name='referral_status', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('qualifying_block_ids', sa.JSON(), nullable=False),
    sa.Column('recommended_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('policy_profile', sa.String(length=16), nullable=False),
    sa.Column('policy_version', sa.Integer(), nullable=False),
    sa.Column('procedure_name', sa.String(length=64), nullable=False),
    sa.Column('nerves', sa.JSON(), nullable=False),
    sa.Column('cpt_first_joint', sa.String(length=8), nullable=False),
    sa.Column('cpt_each_additional_joint', sa.String(length=8), nullable=False),
    sa.Column('warnings', sa.JSON(), nullable=False),
    sa.Column('acknowledged_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('external_order_id', sa.String(length=200), nullable=True),
    sa.Column('withdrawn_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('withdrawn_reason', sa.Text(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['clinic_id'], ['clinic.id'], name=op.f('fk_referral_clinic_id_clinic')),
    sa.ForeignKeyConstraint(['level_id'], ['level.id'], name=op.f('fk_referral_level_id_level')),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], name=op.f('fk_referral_patient_id_patient')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_referral'))
    )
    with op.batch_alter_table('referral', schema=None) as batch_op:
        batch_op.create_index('ix_referral_patient', ['clinic_id', 'patient_id', 'recommended_at'], unique=False)
        batch_op.create_index('ix_referral_worklist', ['clinic_id', 'status', 'recommended_at', 'id'], unique=False)
        batch_op.create_index('uq_referral_live_level', ['level_id'], unique=True, postgresql_where=sa.text("status IN ('open', 'acknowledged')"), sqlite_where=sa.text("status IN ('open', 'acknowledged')"))

    op.create_table('webhook_attempt',
    sa.Column('delivery_id', sa.Uuid(), nullable=False),
    sa.Column('attempted_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('duration_ms', sa.Integer(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['delivery_id'], ['webhook_delivery.id'], name=op.f('fk_webhook_attempt_delivery_id_webhook_delivery')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_attempt'))
    )
    with op.batch_alter_table('webhook_attempt', schema=None) as batch_op:
        batch_op.create_index('ix_webhook_attempt_delivery', ['delivery_id', 'attempted_at'], unique=False)

    op.create_table('reading',
    sa.Column('clinic_id', sa.Uuid(), nullable=False),
    sa.Column('block_id', sa.Uuid(), nullable=False),
    sa.Column('target_id', sa.Uuid(), nullable=False),
    sa.Column('phase', sa.Enum('pre', 'post', name='reading_phase', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('recorded_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('score', sa.Integer(), nullable=False),
    sa.Column('activity', sa.String(length=500), nullable=True),
    sa.Column('analgesic_taken', sa.Boolean(), nullable=False),
    sa.Column('analgesic', sa.String(length=200), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('source', sa.Enum('patient_diary', 'clinician', 'ehr_import', name='reading_source', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('status', sa.Enum('active', 'entered_in_error', name='reading_status', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_by_key_id', sa.Uuid(), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('score >= 0 AND score <= 100', name=op.f('ck_reading_score_range')),
    sa.CheckConstraint('version >= 1', name=op.f('ck_reading_version_positive')),
    sa.ForeignKeyConstraint(['block_id'], ['block.id'], name=op.f('fk_reading_block_id_block')),
    sa.ForeignKeyConstraint(['clinic_id'], ['clinic.id'], name=op.f('fk_reading_clinic_id_clinic')),
    sa.ForeignKeyConstraint(['created_by_key_id'], ['api_key.id'], name=op.f('fk_reading_created_by_key_id_api_key')),
    sa.ForeignKeyConstraint(['target_id'], ['block_target.id'], name=op.f('fk_reading_target_id_block_target')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reading'))
    )
    with op.batch_alter_table('reading', schema=None) as batch_op:
        batch_op.create_index('ix_reading_block', ['block_id', 'created_at'], unique=False)
        batch_op.create_index('ix_reading_target_time', ['target_id', 'recorded_at'], unique=False)

    op.create_table('target_outcome',
    sa.Column('target_id', sa.Uuid(), nullable=False),
    sa.Column('block_id', sa.Uuid(), nullable=False),
    sa.Column('clinic_id', sa.Uuid(), nullable=False),
    sa.Column('verdict', sa.Enum('positive', 'negative', 'indeterminate', name='target_outcome_verdict', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('baseline', sa.Integer(), nullable=True),
    sa.Column('peak_relief_pct', sa.Numeric(precision=6, scale=1), nullable=True),
    sa.Column('sustained_relief_pct', sa.Numeric(precision=6, scale=1), nullable=True),
    sa.Column('relief_duration_minutes', sa.Integer(), nullable=False),
    sa.Column('required_minutes', sa.Integer(), nullable=False),
    sa.Column('readings_used', sa.JSON(), nullable=False),
    sa.Column('reasons', sa.JSON(), nullable=False),
    sa.Column('warnings', sa.JSON(), nullable=False),
    sa.Column('policy_version', sa.Integer(), nullable=False),
    sa.Column('computed_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['block_id'], ['block.id'], name=op.f('fk_target_outcome_block_id_block')),
    sa.ForeignKeyConstraint(['clinic_id'], ['clinic.id'], name=op.f('fk_target_outcome_clinic_id_clinic')),
    sa.ForeignKeyConstraint(['target_id'], ['block_target.id'], name=op.f('fk_target_outcome_target_id_block_target')),
    sa.PrimaryKeyConstraint('target_id', name=op.f('pk_target_outcome'))
    )
    with op.batch_alter_table('target_outcome', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_target_outcome_block_id'), ['block_id'], unique=False)

    op.create_table('reading_version',
    sa.Column('reading_id', sa.Uuid(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('score', sa.Integer(), nullable=False),
    sa.Column('recorded_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('status', sa.Enum('active', 'entered_in_error', name='reading_version_status', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('changed_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('changed_by_key_id', sa.Uuid(), nullable=True),
    sa.Column('changed_by', sa.Text(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['changed_by_key_id'], ['api_key.id'], name=op.f('fk_reading_version_changed_by_key_id_api_key')),
    sa.ForeignKeyConstraint(['reading_id'], ['reading.id'], name=op.f('fk_reading_version_reading_id_reading')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reading_version')),
    sa.UniqueConstraint('reading_id', 'version', name=op.f('uq_reading_version_reading_id_version'))
    )


def downgrade() -> None:
    op.drop_table('reading_version')
    with op.batch_alter_table('target_outcome', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_target_outcome_block_id'))

    op.drop_table('target_outcome')
    with op.batch_alter_table('reading', schema=None) as batch_op:
        batch_op.drop_index('ix_reading_target_time')
        batch_op.drop_index('ix_reading_block')

    op.drop_table('reading')
    with op.batch_alter_table('webhook_attempt', schema=None) as batch_op:
        batch_op.drop_index('ix_webhook_attempt_delivery')

    op.drop_table('webhook_attempt')
    with op.batch_alter_table('referral', schema=None) as batch_op:
        batch_op.drop_index('uq_referral_live_level', postgresql_where=sa.text("status IN ('open', 'acknowledged')"), sqlite_where=sa.text("status IN ('open', 'acknowledged')"))
        batch_op.drop_index('ix_referral_worklist')
        batch_op.drop_index('ix_referral_patient')

    op.drop_table('referral')
    with op.batch_alter_table('block_target', schema=None) as batch_op:
        batch_op.drop_index('ix_block_target_level')

    op.drop_table('block_target')
    op.drop_table('block_outcome')
    with op.batch_alter_table('webhook_delivery', schema=None) as batch_op:
        batch_op.drop_index('ix_webhook_delivery_subscription')
        batch_op.drop_index('ix_webhook_delivery_due')

    op.drop_table('webhook_delivery')
    op.drop_table('policy_version')
    with op.batch_alter_table('level', schema=None) as batch_op:
        batch_op.drop_index('ix_level_clinic_patient')

    op.drop_table('level')
    with op.batch_alter_table('idempotency_record', schema=None) as batch_op:
        batch_op.drop_index('ix_idempotency_record_created')

    op.drop_table('idempotency_record')
    with op.batch_alter_table('block', schema=None) as batch_op:
        batch_op.drop_index('ix_block_clinic_patient_performed')

    op.drop_table('block')
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_event_resource')
        batch_op.drop_index('ix_audit_event_clinic_at')
        batch_op.drop_index('ix_audit_event_actor')

    op.drop_table('audit_event')
    with op.batch_alter_table('webhook_subscription', schema=None) as batch_op:
        batch_op.drop_index('ix_webhook_subscription_clinic')

    op.drop_table('webhook_subscription')
    with op.batch_alter_table('patient', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_patient_clinic_id'))

    op.drop_table('patient')
    with op.batch_alter_table('outbox_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_event_clinic_id'))

    op.drop_table('outbox_event')
    with op.batch_alter_table('api_key', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_key_clinic_id'))

    op.drop_table('api_key')
    op.drop_table('clinic')
