"""A notification remembers the trace of the call that created it, so the
worker's delivery span joins that trace (empty when tracing is off).

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("notifications", sa.Column("traceparent", sa.String(55)))


def downgrade() -> None:
    with op.batch_alter_table("notifications") as batch:
        batch.drop_column("traceparent")
