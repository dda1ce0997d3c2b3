"""payments' tables. The migrations in ``services/payments/migrations`` create them."""

from __future__ import annotations

import sqlalchemy as sa

from services.runtime import idempotency_sql, webhook_tables
from services.runtime.db import new_metadata
from services.runtime.db_types import UtcDateTime

metadata = new_metadata()


payments = sa.Table(
    "payments",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("tenant", sa.String(64), nullable=False),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("reference", sa.String(255), nullable=False),
    sa.Column("description", sa.String(255), nullable=False),
    sa.Column("return_url", sa.String(2000), nullable=False),
    sa.Column("email", sa.String(254), nullable=False),
    sa.Column("language", sa.String(8), nullable=False),
    sa.Column("metadata", sa.JSON, nullable=False),
    sa.Column("delayed_capture", sa.Boolean, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("failure", sa.String(32)),
    sa.Column("provider", sa.String(16), nullable=False),
    sa.Column("provider_ref", sa.String(255), nullable=False),
    sa.Column("card_brand", sa.String(16)),
    sa.Column("card_last_four", sa.String(4)),
    sa.Column("card_expiry", sa.String(5)),
    sa.Column("cardholder_name", sa.String(100)),
    sa.Column("agency_name", sa.String(200), nullable=False),
    sa.Column("captured_amount", sa.BigInteger, nullable=False),
    sa.Column("refunded_amount", sa.BigInteger, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Column("authorised_at", UtcDateTime),
    sa.Column("captured_at", UtcDateTime),
    sa.Column("hold_claim", sa.String(8)),
    sa.Column("late_hold_ref", sa.String(255)),
    sa.Index("ix_payments_tenant_id", "tenant", "id"),
    sa.Index("ix_payments_tenant_reference", "tenant", "reference"),
    sa.Index("ix_payments_tenant_card_last_four", "tenant", "card_last_four"),
    sa.Index("ix_payments_tenant_email", "tenant", "email", "id"),
    sa.Index("ix_payments_tenant_state", "tenant", "state", "id"),
    sa.Index("ix_payments_state_created", "state", "created_at"),
    sa.Index("ix_payments_provider_ref", "provider_ref"),
    sa.Index("ix_payments_late_hold_ref", "late_hold_ref"),
)

payment_events = sa.Table(
    "payment_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("tenant", sa.String(64), nullable=False),
    sa.Column("payment_id", sa.String(40), nullable=False),
    sa.Column("type", sa.String(40), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("refund_id", sa.String(40)),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Index("ix_payment_events_payment", "payment_id", "id"),
)

refunds = sa.Table(
    "refunds",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("tenant", sa.String(64), nullable=False),
    sa.Column("payment_id", sa.String(40), nullable=False),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("provider_ref", sa.String(255), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Index("ix_refunds_payment", "payment_id", "id"),
    sa.Index("ix_refunds_provider_ref", "provider_ref"),
)

# Double-entry lines: every entry's lines sum to zero (see domain/ledger.py).
ledger_lines = sa.Table(
    "ledger_lines",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("tenant", sa.String(64), nullable=False),
    sa.Column("payment_id", sa.String(40), nullable=False),
    sa.Column("refund_id", sa.String(40)),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("account", sa.String(100), nullable=False),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Index("ix_ledger_lines_tenant_created", "tenant", "created_at"),
)

# The signing secret must be recoverable (it signs every delivery), so it is
# sealed with PAYMENTS_KEY_ENCRYPTION_KEY when one is set (migration 0003 widened
# the column for that), not hashed; the API shows it only once.
webhook_subscriptions = sa.Table(
    "webhook_subscriptions",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("tenant", sa.String(64), nullable=False),
    sa.Column("url", sa.String(2000), nullable=False),
    sa.Column("event_types", sa.JSON, nullable=False),
    sa.Column("secret", sa.String(255), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("disabled_at", UtcDateTime),
    sa.Index("ix_webhook_subscriptions_tenant", "tenant", "id"),
)

# Stripe event ids already applied: a redelivered event is acknowledged and skipped.
stripe_events = sa.Table(
    "stripe_events",
    metadata,
    sa.Column("id", sa.String(255), primary_key=True),
    sa.Column("type", sa.String(100), nullable=False),
    sa.Column("received_at", UtcDateTime, nullable=False),
)

# Secrets the service generates for itself (shared by replicas through the database).
service_secrets = sa.Table(
    "service_secrets",
    metadata,
    sa.Column("name", sa.String(40), primary_key=True),
    sa.Column("value", sa.String(200), nullable=False),
)

# The sandbox provider's own state: charges and the responses to its idempotency keys.
sandbox_charges = sa.Table(
    "sandbox_charges",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("captured", sa.BigInteger, nullable=False),
    sa.Column("refunded", sa.BigInteger, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
)
sandbox_requests = sa.Table(
    "sandbox_requests",
    metadata,
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("response", sa.JSON, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
)

idempotency_keys = idempotency_sql.define_table(metadata)
webhook_deliveries, webhook_attempts = webhook_tables.define_tables(metadata)
