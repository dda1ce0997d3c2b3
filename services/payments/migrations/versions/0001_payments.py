"""Payments, events, refunds, the ledger, webhooks, idempotency keys and the sandbox.

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


def upgrade() -> None:
    op.create_table(
        "payments",
        sa.Column("id", sa.String(40), nullable=False),
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
        sa.PrimaryKeyConstraint("id", name="pk_payments"),
    )
    op.create_index("ix_payments_tenant_id", "payments", ["tenant", "id"])
    op.create_index("ix_payments_tenant_reference", "payments", ["tenant", "reference"])
    op.create_index("ix_payments_state_created", "payments", ["state", "created_at"])
    op.create_index("ix_payments_provider_ref", "payments", ["provider_ref"])

    op.create_table(
        "payment_events",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("payment_id", sa.String(40), nullable=False),
        sa.Column("type", sa.String(40), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("refund_id", sa.String(40)),
        sa.Column("at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_payment_events"),
    )
    op.create_index("ix_payment_events_payment", "payment_events", ["payment_id", "id"])

    op.create_table(
        "refunds",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("payment_id", sa.String(40), nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("provider_ref", sa.String(255), nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_refunds"),
    )
    op.create_index("ix_refunds_payment", "refunds", ["payment_id", "id"])
    op.create_index("ix_refunds_provider_ref", "refunds", ["provider_ref"])

    op.create_table(
        "ledger_lines",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("payment_id", sa.String(40), nullable=False),
        sa.Column("refund_id", sa.String(40)),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("account", sa.String(100), nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ledger_lines"),
    )
    op.create_index("ix_ledger_lines_tenant_created", "ledger_lines", ["tenant", "created_at"])

    op.create_table(
        "webhook_subscriptions",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("event_types", sa.JSON, nullable=False),
        sa.Column("secret", sa.String(100), nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("disabled_at", UtcDateTime),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_subscriptions"),
    )
    op.create_index("ix_webhook_subscriptions_tenant", "webhook_subscriptions", ["tenant", "id"])

    op.create_table(
        "stripe_events",
        sa.Column("id", sa.String(255), nullable=False),
        sa.Column("type", sa.String(100), nullable=False),
        sa.Column("received_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_stripe_events"),
    )
    op.create_table(
        "service_secrets",
        sa.Column("name", sa.String(40), nullable=False),
        sa.Column("value", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_service_secrets"),
    )
    op.create_table(
        "sandbox_charges",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("captured", sa.BigInteger, nullable=False),
        sa.Column("refunded", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_sandbox_charges"),
    )
    op.create_table(
        "sandbox_requests",
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("response", sa.JSON, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_sandbox_requests"),
    )
    idempotency_sql.create_table(op)
    webhook_tables.create_tables(op)


def downgrade() -> None:
    for table in (
        webhook_tables.ATTEMPTS,
        webhook_tables.DELIVERIES,
        idempotency_sql.TABLE_NAME,
        "sandbox_requests",
        "sandbox_charges",
        "service_secrets",
        "stripe_events",
        "webhook_subscriptions",
        "ledger_lines",
        "refunds",
        "payment_events",
        "payments",
    ):
        op.drop_table(table)
