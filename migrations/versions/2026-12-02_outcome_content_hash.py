"""target outcomes carry a digest of their verdict columns: the clinic-wide pass rewrites only changed rows

Revision ID: e9a1b2c3d4e5
Revises: e7b1c2d3e4f5
Create Date: 2026-12-02 16:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'e9a1b2c3d4e5'
down_revision: str | None = 'e7b1c2d3e4f5'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Null on existing rows: unknown, so the next clinic-wide pass rewrites them once.
    with op.batch_alter_table('target_outcome', schema=None) as batch_op:
        batch_op.add_column(sa.Column('content_hash', sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('target_outcome', schema=None) as batch_op:
        batch_op.drop_column('content_hash')
