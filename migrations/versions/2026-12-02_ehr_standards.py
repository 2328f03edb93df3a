"""EHR standards: OAuth clients and tokens, used JWT ids, CDS Hooks issuers, HL7 v2 webhooks

Revision ID: b11c2d3e4f5a
Revises: a82c08470598
Create Date: 2026-12-02 12:28:27.310617
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.base

revision: str = 'b11c2d3e4f5a'
down_revision: str | None = 'a82c08470598'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('used_jti',
    sa.Column('issuer', sa.String(length=500), nullable=False),
    sa.Column('jti', sa.String(length=255), nullable=False),
    sa.Column('expires_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_used_jti')),
    sa.UniqueConstraint('issuer', 'jti', name=op.f('uq_used_jti_issuer_jti'))
    )
    with op.batch_alter_table('used_jti', schema=None) as batch_op:
        batch_op.create_index('ix_used_jti_expires', ['expires_at'], unique=False)

    op.create_table('cds_issuer',
    sa.Column('clinic_id', sa.Uuid(), nullable=False),
    sa.Column('issuer', sa.String(length=500), nullable=False),
    sa.Column('jwks', sa.JSON(none_as_null=True), nullable=True),
    sa.Column('jwks_url', sa.String(length=2000), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('(jwks IS NULL) <> (jwks_url IS NULL)', name=op.f('ck_cds_issuer_one_key_source')),
    sa.ForeignKeyConstraint(['clinic_id'], ['clinic.id'], name=op.f('fk_cds_issuer_clinic_id_clinic')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cds_issuer')),
    sa.UniqueConstraint('clinic_id', 'issuer', name=op.f('uq_cds_issuer_clinic_id_issuer'))
    )
    with op.batch_alter_table('cds_issuer', schema=None) as batch_op:
        batch_op.create_index('ix_cds_issuer_issuer', ['issuer'], unique=False)

    op.create_table('oauth_client',
    sa.Column('clinic_id', sa.Uuid(), nullable=False),
    sa.Column('api_key_id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('role', sa.Enum('admin', 'ehr', 'staff', 'viewer', name='oauth_client_role', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('jwks', sa.JSON(none_as_null=True), nullable=True),
    sa.Column('jwks_url', sa.String(length=2000), nullable=True),
    sa.Column('revoked_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('(jwks IS NULL) <> (jwks_url IS NULL)', name=op.f('ck_oauth_client_one_key_source')),
    sa.ForeignKeyConstraint(['api_key_id'], ['api_key.id'], name=op.f('fk_oauth_client_api_key_id_api_key')),
    sa.ForeignKeyConstraint(['clinic_id'], ['clinic.id'], name=op.f('fk_oauth_client_clinic_id_clinic')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_oauth_client')),
    sa.UniqueConstraint('api_key_id', name=op.f('uq_oauth_client_api_key_id'))
    )
    with op.batch_alter_table('oauth_client', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_oauth_client_clinic_id'), ['clinic_id'], unique=False)

    op.create_table('oauth_token',
    sa.Column('client_id', sa.Uuid(), nullable=False),
    sa.Column('api_key_id', sa.Uuid(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('scope', sa.String(length=200), nullable=False),
    sa.Column('role', sa.Enum('admin', 'ehr', 'staff', 'viewer', name='oauth_token_role', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('expires_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['api_key_id'], ['api_key.id'], name=op.f('fk_oauth_token_api_key_id_api_key')),
    sa.ForeignKeyConstraint(['client_id'], ['oauth_client.id'], name=op.f('fk_oauth_token_client_id_oauth_client')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_oauth_token')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_oauth_token_token_hash'))
    )
    with op.batch_alter_table('oauth_token', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_oauth_token_client_id'), ['client_id'], unique=False)
        batch_op.create_index('ix_oauth_token_expires', ['expires_at'], unique=False)

    with op.batch_alter_table('outbox_event', schema=None) as batch_op:
        batch_op.add_column(sa.Column('hl7_message', sa.Text(), nullable=True))

    with op.batch_alter_table('block_target', schema=None) as batch_op:
        batch_op.create_index('ix_block_target_clinic_id_id', ['clinic_id', 'id'], unique=False)

    with op.batch_alter_table('webhook_subscription', schema=None) as batch_op:
        batch_op.add_column(sa.Column('format', sa.Enum('json', 'hl7v2', name='webhook_format', native_enum=False, create_constraint=True, length=32), server_default='json', nullable=False))



def downgrade() -> None:
    with op.batch_alter_table('webhook_subscription', schema=None) as batch_op:
        # SQLite's batch copy would keep the CHECK on the dropped column: drop it first.
        batch_op.drop_constraint(op.f('ck_webhook_subscription_webhook_format'), type_='check')
        batch_op.drop_column('format')

    with op.batch_alter_table('block_target', schema=None) as batch_op:
        batch_op.drop_index('ix_block_target_clinic_id_id')

    with op.batch_alter_table('outbox_event', schema=None) as batch_op:
        batch_op.drop_column('hl7_message')

    with op.batch_alter_table('oauth_token', schema=None) as batch_op:
        batch_op.drop_index('ix_oauth_token_expires')
        batch_op.drop_index(batch_op.f('ix_oauth_token_client_id'))

    op.drop_table('oauth_token')
    with op.batch_alter_table('oauth_client', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_oauth_client_clinic_id'))

    op.drop_table('oauth_client')
    with op.batch_alter_table('cds_issuer', schema=None) as batch_op:
        batch_op.drop_index('ix_cds_issuer_issuer')

    op.drop_table('cds_issuer')
    with op.batch_alter_table('used_jti', schema=None) as batch_op:
        batch_op.drop_index('ix_used_jti_expires')

    op.drop_table('used_jti')
