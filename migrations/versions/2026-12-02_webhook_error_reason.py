"""webhook attempts keep a status and a short reason, not the receiver's answer: errors at most 200 characters

Revision ID: e7a1b2c3d4e5
Revises: e7c1d2e3f4a5
Create Date: 2026-12-02 17:00:00.000000

Errors stored before held up to 500 characters of the receiver's body. They are cut back to the status
code (`HTTP 500`) for an answer, and to 200 characters otherwise; what was cut cannot come back.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e7a1b2c3d4e5"
down_revision: str | None = "e7c1d2e3f4a5"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, error column, status column)
COLUMNS = (
    ("webhook_attempt", "error", "status_code"),
    ("webhook_delivery", "last_error", "last_status_code"),
)


def upgrade() -> None:
    for table, error, status in COLUMNS:
        op.execute(
            f"UPDATE {table} SET {error} = 'HTTP ' || CAST({status} AS VARCHAR) "
            f"WHERE {status} IS NOT NULL AND {error} IS NOT NULL"
        )
        op.execute(f"UPDATE {table} SET {error} = substr({error}, 1, 200) WHERE length({error}) > 200")
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column(
                error, existing_type=sa.Text(), type_=sa.String(length=200), existing_nullable=True
            )


def downgrade() -> None:
    for table, error, _status in COLUMNS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column(
                error, existing_type=sa.String(length=200), type_=sa.Text(), existing_nullable=True
            )
