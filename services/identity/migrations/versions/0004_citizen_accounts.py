"""Citizen accounts: verification tickets (emailed and texted codes), recovery
codes, known devices and throttling counters.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

from services.runtime.db_types import UtcDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "verification_tickets",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("purpose", sa.String(16), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("account_id", sa.String(40)),
        sa.Column("browser_hash", sa.String(64), nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("password_hash", sa.String(200)),
        sa.Column("phone_number", sa.String(32)),
        sa.Column("language", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("expires_at", UtcDateTime, nullable=False),
        sa.Column("verified_at", UtcDateTime),
        sa.Column("used_at", UtcDateTime),
        sa.PrimaryKeyConstraint("id", name="pk_verification_tickets"),
    )
    op.create_index("ix_verification_tickets_account_id", "verification_tickets", ["account_id"])
    op.create_index("ix_verification_tickets_expires_at", "verification_tickets", ["expires_at"])
    op.create_table(
        "recovery_codes",
        sa.Column("account_id", sa.String(40), nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("used_at", UtcDateTime),
        sa.PrimaryKeyConstraint("account_id", "code_hash", name="pk_recovery_codes"),
    )
    op.create_table(
        "known_devices",
        sa.Column("account_id", sa.String(40), nullable=False),
        sa.Column("device_hash", sa.String(64), nullable=False),
        sa.Column("first_seen_at", UtcDateTime, nullable=False),
        sa.Column("last_seen_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("account_id", "device_hash", name="pk_known_devices"),
    )
    op.create_table(
        "throttle_counters",
        sa.Column("key", sa.String(120), nullable=False),
        sa.Column("window_start", UtcDateTime, nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("expires_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("key", "window_start", name="pk_throttle_counters"),
    )
    op.create_index("ix_throttle_counters_expires_at", "throttle_counters", ["expires_at"])


def downgrade() -> None:
    op.drop_table("throttle_counters")
    op.drop_table("known_devices")
    op.drop_table("recovery_codes")
    op.drop_table("verification_tickets")
