"""notify's tables (the schema itself is created by migrations/versions)."""

from __future__ import annotations

import sqlalchemy as sa

from services.runtime import idempotency_sql, webhook_tables
from services.runtime.db_types import UtcDateTime

metadata = sa.MetaData()

templates = sa.Table(
    "templates",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("tenant", sa.String(64), nullable=False),
    sa.Column("channel", sa.String(8), nullable=False),
    sa.Column("latest_version", sa.Integer, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

template_versions = sa.Table(
    "template_versions",
    metadata,
    sa.Column("template_id", sa.String(40), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    # [{"language", "subject", "body"}], the default language first.
    sa.Column("contents", sa.JSON, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    # who made the version: the caller's word, and the verified acting client
    sa.Column("changed_by", sa.String(320), nullable=False, server_default=""),
    sa.Column("actor", sa.String(255), nullable=False, server_default=""),
)

notifications = sa.Table(
    "notifications",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("tenant", sa.String(64), nullable=False),
    sa.Column("mode", sa.String(8), nullable=False),
    sa.Column("channel", sa.String(8), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("template_id", sa.String(40), nullable=False),
    sa.Column("template_version", sa.Integer, nullable=False),
    # Personal data: emptied by the retention job (purged_at set).
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
    # When a worker may next claim it: the due time, a lease's end or a retry's time.
    sa.Column("due_at", UtcDateTime, nullable=False),
    # The retry period runs from here (the first time it was due).
    sa.Column("first_due_at", UtcDateTime, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("provider", sa.String(40)),
    # Set when a provider accepted it: from then on it is never sent again.
    sa.Column("provider_message_id", sa.String(200)),
    sa.Column("sent_at", UtcDateTime),
    sa.Column("completed_at", UtcDateTime),
    sa.Column("purged_at", UtcDateTime),
    # The W3C traceparent of the call that created it (tracing on), so the
    # worker's delivery span joins that trace (migration 0002).
    sa.Column("traceparent", sa.String(55)),
)

bulk_sends = sa.Table(
    "bulk_sends",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("tenant", sa.String(64), nullable=False),
    sa.Column("template_id", sa.String(40), nullable=False),
    sa.Column("template_version", sa.Integer, nullable=False),
    sa.Column("channel", sa.String(8), nullable=False),
    sa.Column("total", sa.Integer, nullable=False),
    sa.Column("reference", sa.String(200), nullable=False),
    sa.Column("scheduled_for", UtcDateTime),
    sa.Column("created_at", UtcDateTime, nullable=False),
)

status_callbacks = sa.Table(
    "status_callbacks",
    metadata,
    sa.Column("tenant", sa.String(64), primary_key=True),
    sa.Column("id", sa.String(40), nullable=False),
    sa.Column("url", sa.String(2000), nullable=False),
    # The signing secret, sealed with NOTIFY_KEY_ENCRYPTION_KEY when one is set
    # (the worker unseals it to sign each callback: HMAC needs the secret).
    sa.Column("secret", sa.String(255), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
)

# notify's own secrets: the key-encryption key's check value (``sealing.seal_once``).
service_secrets = sa.Table(
    "service_secrets",
    metadata,
    sa.Column("name", sa.String(40), primary_key=True),
    sa.Column("value", sa.String(200), nullable=False),
)

agency_settings = sa.Table(
    "agency_settings",
    metadata,
    sa.Column("tenant", sa.String(64), primary_key=True),
    sa.Column("sms_default_region", sa.String(2), nullable=False),
    sa.Column("international_sms", sa.Boolean, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

daily_counts = sa.Table(
    "daily_counts",
    metadata,
    sa.Column("tenant", sa.String(64), primary_key=True),
    sa.Column("channel", sa.String(8), primary_key=True),
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("count", sa.Integer, nullable=False),
)

# Each status change of a notification after it was created (its history).
notification_events = sa.Table(
    "notification_events",
    metadata,
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
    sa.Index("ix_notification_events_notification", "tenant", "notification_id", "at"),
)

idempotency_keys = idempotency_sql.define_table(metadata)
webhook_deliveries, webhook_attempts = webhook_tables.define_tables(metadata)
