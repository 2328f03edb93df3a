"""users, their sessions and sign-in attempts; audit rows name the person and the patient

Revision ID: 8a2b3c4d5e68
Revises: a10b2c3d4e5f
Create Date: 2026-12-02 12:24:36.532057
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.base

revision: str = '8a2b3c4d5e68'
down_revision: str | None = 'a10b2c3d4e5f'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('sign_in_attempt',
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('succeeded', sa.Boolean(), nullable=False),
    sa.Column('client_addr', sa.String(length=64), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sign_in_attempt'))
    )
    with op.batch_alter_table('sign_in_attempt', schema=None) as batch_op:
        batch_op.create_index('ix_sign_in_attempt_email_at', ['email', 'at'], unique=False)

    op.create_table('user',
    sa.Column('clinic_id', sa.Uuid(), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('display_name', sa.String(length=200), nullable=False),
    sa.Column('role', sa.Enum('admin', 'clinician', 'staff', 'viewer', name='user_role', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('password_hash', sa.String(length=200), nullable=False),
    sa.Column('must_change_password', sa.Boolean(), nullable=False),
    sa.Column('password_changed_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('disabled_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['clinic_id'], ['clinic.id'], name=op.f('fk_user_clinic_id_clinic')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user')),
    sa.UniqueConstraint('clinic_id', 'email', name=op.f('uq_user_clinic_id_email'))
    )
    op.create_table('user_session',
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('clinic_id', sa.Uuid(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('csrf_token', sa.String(length=64), nullable=False),
    sa.Column('last_seen_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ended_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('client_addr', sa.String(length=64), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['clinic_id'], ['clinic.id'], name=op.f('fk_user_session_clinic_id_clinic')),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_user_session_user_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user_session')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_user_session_token_hash'))
    )
    with op.batch_alter_table('user_session', schema=None) as batch_op:
        batch_op.create_index('ix_user_session_user', ['user_id', 'ended_at'], unique=False)

    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.add_column(sa.Column('actor_user_id', sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column('patient_id', sa.Uuid(), nullable=True))
        batch_op.create_index('ix_audit_event_patient', ['clinic_id', 'patient_id', 'at'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_audit_event_actor_user_id_user'), 'user', ['actor_user_id'], ['id'])

    with op.batch_alter_table('reading_version', schema=None) as batch_op:
        batch_op.add_column(sa.Column('changed_by_user_id', sa.Uuid(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_reading_version_changed_by_user_id_user'), 'user', ['changed_by_user_id'], ['id'])

    with op.batch_alter_table('referral', schema=None) as batch_op:
        batch_op.add_column(sa.Column('acknowledged_by', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('acknowledged_by_user_id', sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column('acknowledged_by_key_id', sa.Uuid(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_referral_acknowledged_by_user_id_user'), 'user', ['acknowledged_by_user_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_referral_acknowledged_by_key_id_api_key'), 'api_key', ['acknowledged_by_key_id'], ['id'])



def downgrade() -> None:
    with op.batch_alter_table('referral', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_referral_acknowledged_by_key_id_api_key'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_referral_acknowledged_by_user_id_user'), type_='foreignkey')
        batch_op.drop_column('acknowledged_by_key_id')
        batch_op.drop_column('acknowledged_by_user_id')
        batch_op.drop_column('acknowledged_by')

    with op.batch_alter_table('reading_version', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_reading_version_changed_by_user_id_user'), type_='foreignkey')
        batch_op.drop_column('changed_by_user_id')

    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_audit_event_actor_user_id_user'), type_='foreignkey')
        batch_op.drop_index('ix_audit_event_patient')
        batch_op.drop_column('patient_id')
        batch_op.drop_column('actor_user_id')

    with op.batch_alter_table('user_session', schema=None) as batch_op:
        batch_op.drop_index('ix_user_session_user')

    op.drop_table('user_session')
    op.drop_table('user')
    with op.batch_alter_table('sign_in_attempt', schema=None) as batch_op:
        batch_op.drop_index('ix_sign_in_attempt_email_at')

    op.drop_table('sign_in_attempt')
