"""Templates, notifications (the queue), bulk sends, callbacks, settings, counters.

The tables are spelled out as they were at this revision, not taken from
``adapters/tables.py``: a migration must build the same schema whatever the
code declares later (later columns come from later migrations).

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from services.runtime import idempotency_sql, webhook_tables
from services.runtime.db_types import UtcDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_OWN = (
    "templates",
    "template_versions",
    "notifications",
    "bulk_sends",
    "status_callbacks",
    "agency_settings",
    "daily_counts",
)


def upgrade() -> None:
    op.create_table(
        "templates",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(8), nullable=False),
        sa.Column("latest_version", sa.Integer, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "template_versions",
        sa.Column("template_id", sa.String(40), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("contents", sa.JSON, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("template_id", "version"),
    )
    op.create_table(
        "notifications",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("mode", sa.String(8), nullable=False),
        sa.Column("channel", sa.String(8), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("template_id", sa.String(40), nullable=False),
        sa.Column("template_version", sa.Integer, nullable=False),
        sa.Column("recipient", sa.String(320), nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("personalisation", sa.JSON, nullable=False),
        sa.Column("reply_to", sa.String(320), nullable=False),
        sa.Column("reference", sa.String(200), nullable=False),
        sa.Column("language", sa.String(35), nullable=False),
        sa.Column("fragments", sa.Integer, nullable=False),
        sa.Column("bulk_send_id", sa.String(40)),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("scheduled_for", UtcDateTime),
        sa.Column("due_at", UtcDateTime, nullable=False),
        sa.Column("first_due_at", UtcDateTime, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("provider", sa.String(40)),
        sa.Column("provider_message_id", sa.String(200)),
        sa.Column("sent_at", UtcDateTime),
        sa.Column("completed_at", UtcDateTime),
        sa.Column("purged_at", UtcDateTime),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "bulk_sends",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("template_id", sa.String(40), nullable=False),
        sa.Column("template_version", sa.Integer, nullable=False),
        sa.Column("channel", sa.String(8), nullable=False),
        sa.Column("total", sa.Integer, nullable=False),
        sa.Column("reference", sa.String(200), nullable=False),
        sa.Column("scheduled_for", UtcDateTime),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "status_callbacks",
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("secret", sa.String(100), nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("tenant"),
    )
    op.create_table(
        "agency_settings",
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("sms_default_region", sa.String(2), nullable=False),
        sa.Column("international_sms", sa.Boolean, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("tenant"),
    )
    op.create_table(
        "daily_counts",
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(8), nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("tenant", "channel", "day"),
    )
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
    idempotency_sql.create_table(op)
    webhook_tables.create_tables(op)


def downgrade() -> None:
    op.drop_table(webhook_tables.ATTEMPTS)
    op.drop_table(webhook_tables.DELIVERIES)
    op.drop_table(idempotency_sql.TABLE_NAME)
    for table in reversed(_OWN):
        op.drop_table(table)
