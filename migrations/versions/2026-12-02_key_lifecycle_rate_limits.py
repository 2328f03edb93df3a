"""API key expiry and last use, rate-limit buckets, refusals audited without a clinic

Revision ID: e7b1c2d3e4f5
Revises: e7a1b2c3d4e5
Create Date: 2026-12-02 16:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.base

revision: str = 'e7b1c2d3e4f5'
down_revision: str | None = 'e7a1b2c3d4e5'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('rate_limit_bucket',
    sa.Column('bucket', sa.String(length=200), nullable=False),
    sa.Column('tat', sa.Double(), nullable=False),
    sa.Column('blocked_until', sa.Double(), nullable=False),
    sa.Column('allowed', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('bucket', name=op.f('pk_rate_limit_bucket'))
    )
    if op.get_bind().dialect.name == "postgresql":
        # Counters, not records: without WAL, the per-request UPSERT commits without waiting for a disk
        # flush (about a third of its cost on the shared machine). A crash empties the table, which
        # only gives every caller a fresh burst.
        op.execute("ALTER TABLE rate_limit_bucket SET UNLOGGED")
    with op.batch_alter_table('api_key', schema=None) as batch_op:
        batch_op.add_column(sa.Column('expires_at', models.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('last_used_at', models.base.UTCDateTime(timezone=True), nullable=True))

    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.alter_column('clinic_id', existing_type=sa.Uuid(), nullable=True)


def downgrade() -> None:
    # Refusals that named no clinic cannot be kept once clinic_id is required again.
    op.execute("DELETE FROM audit_event WHERE clinic_id IS NULL")
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.alter_column('clinic_id', existing_type=sa.Uuid(), nullable=False)

    with op.batch_alter_table('api_key', schema=None) as batch_op:
        batch_op.drop_column('last_used_at')
        batch_op.drop_column('expires_at')

    op.drop_table('rate_limit_bucket')
