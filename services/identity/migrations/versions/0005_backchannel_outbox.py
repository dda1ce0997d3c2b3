"""The back-channel logout outbox: logout tokens owed to agencies survive a restart.

Revision ID: 0005
Revises: 0004
"""

from alembic import op

from services.runtime import webhook_tables

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    webhook_tables.create_tables(op)


def downgrade() -> None:
    op.drop_table(webhook_tables.ATTEMPTS)
    op.drop_table(webhook_tables.DELIVERIES)
