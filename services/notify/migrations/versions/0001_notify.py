"""Templates, notifications (the queue), bulk sends, callbacks, settings, counters.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from services.notify.adapters import tables
from services.runtime import idempotency, webhooks

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_OWN = (
    tables.templates,
    tables.template_versions,
    tables.notifications,
    tables.bulk_sends,
    tables.status_callbacks,
    tables.agency_settings,
    tables.daily_counts,
)


def upgrade() -> None:
    bind = op.get_bind()
    for table in _OWN:
        table.create(bind)
    op.create_index("ix_templates_tenant", "templates", ["tenant", "created_at", "id"])
    op.create_index(
        "ix_notifications_tenant_created", "notifications", ["tenant", "created_at", "id"]
    )
    # The queue: what is due and not yet final.
    op.create_index(
        "ix_notifications_due",
        "notifications",
        ["due_at"],
        postgresql_where=sa.text(
            "status IN ('created', 'sending') AND provider_message_id IS NULL"
        ),
        sqlite_where=sa.text("status IN ('created', 'sending') AND provider_message_id IS NULL"),
    )
    op.create_index(
        "ix_notifications_provider_id", "notifications", ["provider", "provider_message_id"]
    )
    op.create_index("ix_notifications_bulk", "notifications", ["bulk_send_id", "status"])
    op.create_index(
        "ix_notifications_unpurged",
        "notifications",
        ["created_at"],
        postgresql_where=sa.text("purged_at IS NULL"),
        sqlite_where=sa.text("purged_at IS NULL"),
    )
    idempotency.create_table(op)
    webhooks.create_tables(op)


def downgrade() -> None:
    op.drop_table(webhooks.ATTEMPTS)
    op.drop_table(webhooks.DELIVERIES)
    op.drop_table(idempotency.TABLE_NAME)
    for table in reversed(_OWN):
        op.drop_table(table.name)
