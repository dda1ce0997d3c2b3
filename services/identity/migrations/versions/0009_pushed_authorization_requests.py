"""Pushed authorization requests (RFC 9126).

``pushed_authorization_requests`` holds each pushed request until it is used
(once) or expires (60 seconds), keyed by the SHA-256 of its ``request_uri``.
``agencies.require_par`` marks the agencies whose authorization requests must be
pushed first; every agency starts without the requirement.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

from services.runtime.db_types import UtcDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pushed_authorization_requests",
        sa.Column("uri_hash", sa.String(64), nullable=False),
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("request", sa.JSON, nullable=False),
        sa.Column("expires_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("uri_hash", name="pk_pushed_authorization_requests"),
    )
    op.create_index(
        "ix_pushed_authorization_requests_expires_at",
        "pushed_authorization_requests",
        ["expires_at"],
    )
    with op.batch_alter_table("agencies") as agencies:
        agencies.add_column(
            sa.Column("require_par", sa.Boolean, nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("agencies") as agencies:
        agencies.drop_column("require_par")
    op.drop_index("ix_pushed_authorization_requests_expires_at", "pushed_authorization_requests")
    op.drop_table("pushed_authorization_requests")
