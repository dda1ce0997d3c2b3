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
    # 0001 creates notify's tables from the current metadata, so a database
    # made from scratch has the column already; one made before this has not.
    present = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("notifications")}
    if "traceparent" not in present:
        op.add_column("notifications", sa.Column("traceparent", sa.String(55)))


def downgrade() -> None:
    with op.batch_alter_table("notifications") as batch:
        batch.drop_column("traceparent")
