"""The demo app's own tables: applications, browser sessions, processed webhook
events and a few values it keeps (template ids, the webhook secret)."""

from __future__ import annotations

import sqlalchemy as sa

from services.runtime.db_types import UtcDateTime

metadata = sa.MetaData()

applications = sa.Table(
    "applications",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("subject", sa.String(255), nullable=False, index=True),
    sa.Column("reference", sa.String(20), nullable=False, unique=True),
    sa.Column("full_name", sa.String(100), nullable=False),
    sa.Column("email", sa.String(254), nullable=False),
    sa.Column("phone", sa.String(20), nullable=False),
    sa.Column("vehicle", sa.String(8), nullable=False),
    sa.Column("postcode", sa.String(8), nullable=False),
    sa.Column("language", sa.String(16), nullable=False),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("state", sa.String(20), nullable=False),
    sa.Column("payment_id", sa.String(64), nullable=False, index=True),
    sa.Column("next_url", sa.String(2000), nullable=False),
    sa.Column("email_notification_id", sa.String(64), nullable=False),
    sa.Column("sms_notification_id", sa.String(64), nullable=False),
    sa.Column("signed_in_at", UtcDateTime),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

# A browser session: the cookie holds a random value; only its SHA-256 is stored.
sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("pending", sa.Text, nullable=False),  # JSON: sign-in in progress, or ""
    sa.Column("subject", sa.String(255), nullable=False),
    sa.Column("claims", sa.Text, nullable=False),  # JSON: the ID token's claims
    sa.Column("id_token", sa.Text, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

webhook_events = sa.Table(
    "webhook_events",
    metadata,
    sa.Column("event_id", sa.String(100), primary_key=True),
    sa.Column("received_at", UtcDateTime, nullable=False),
)

kept_values = sa.Table(
    "kept_values",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)
