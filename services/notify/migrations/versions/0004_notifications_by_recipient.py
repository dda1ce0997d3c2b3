"""ListNotifications finds an agency's notifications to one recipient (the
console's search): an index on the normalised recipient, newest first.

Revision ID: 0004
Revises: 0003
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_notifications_recipient",
        "notifications",
        ["tenant", "recipient", "created_at", "id"],
    )


def downgrade() -> None:
    op.drop_index("ix_notifications_recipient", table_name="notifications")
