"""The outbox's two tables (``webhook_deliveries``, ``webhook_attempts``), the
same in every service database that has an outbox."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from services.runtime.db_types import UtcDateTime

DELIVERIES = "webhook_deliveries"
ATTEMPTS = "webhook_attempts"


def define_tables(metadata: sa.MetaData) -> tuple[sa.Table, sa.Table]:
    deliveries = sa.Table(DELIVERIES, metadata, *_delivery_columns())
    attempts = sa.Table(ATTEMPTS, metadata, *_attempt_columns())
    # The same indexes create_tables makes, so the code declares the whole schema.
    sa.Index(f"ix_{DELIVERIES}_due", deliveries.c.state, deliveries.c.next_attempt_at)
    sa.Index(f"ix_{DELIVERIES}_subscription", deliveries.c.subscription_id, deliveries.c.created_at)
    sa.Index(f"ix_{ATTEMPTS}_delivery", attempts.c.delivery_id, attempts.c.attempted_at)
    return deliveries, attempts


def create_tables(op: Any) -> None:
    """For a service's Alembic migration: ``webhook_tables.create_tables(op)``."""
    op.create_table(DELIVERIES, *_delivery_columns())
    op.create_index(f"ix_{DELIVERIES}_due", DELIVERIES, ["state", "next_attempt_at"])
    op.create_index(f"ix_{DELIVERIES}_subscription", DELIVERIES, ["subscription_id", "created_at"])
    op.create_table(ATTEMPTS, *_attempt_columns())
    op.create_index(f"ix_{ATTEMPTS}_delivery", ATTEMPTS, ["delivery_id", "attempted_at"])


def _delivery_columns() -> list[Any]:
    return [
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("subscription_id", sa.String(64), nullable=False),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("body", sa.LargeBinary, nullable=False),
        # pending -> succeeded | failed (gave up)
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", UtcDateTime, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("finished_at", UtcDateTime),
    ]


def _attempt_columns() -> list[Any]:
    return [
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("delivery_id", sa.String(40), nullable=False),
        sa.Column("attempted_at", UtcDateTime, nullable=False),
        sa.Column("status_code", sa.Integer),
        sa.Column("error", sa.String(500)),
        sa.Column("duration_ms", sa.Integer, nullable=False),
    ]
