"""A notification's status history: each change after it was created (sending,
delivered, a failure, cancelled), written where the status changes, for
ListNotificationEvents. Notifications created before this have none recorded.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

from services.runtime.db_types import UtcDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notification_events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer, "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("notification_id", sa.String(40), nullable=False),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("at", UtcDateTime, nullable=False),
    )
    op.create_index(
        "ix_notification_events_notification",
        "notification_events",
        ["tenant", "notification_id", "at"],
    )


def downgrade() -> None:
    op.drop_index("ix_notification_events_notification", table_name="notification_events")
    op.drop_table("notification_events")
