"""Agencies, signing keys and used client assertions.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from services.runtime.db_types import UtcDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agencies",
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("mode", sa.String(8), nullable=False),
        sa.Column("scopes", sa.JSON, nullable=False),
        sa.Column("redirect_uris", sa.JSON, nullable=False),
        sa.Column("auth_methods", sa.JSON, nullable=False),
        sa.Column("secret_hash", sa.String(64)),
        sa.Column("jwks", sa.JSON),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("disabled_at", UtcDateTime),
        sa.PrimaryKeyConstraint("client_id", name="pk_agencies"),
    )
    op.create_table(
        "signing_keys",
        sa.Column("kid", sa.String(64), nullable=False),
        sa.Column("alg", sa.String(10), nullable=False),
        sa.Column("private_pem", sa.LargeBinary, nullable=False),
        sa.Column("public_jwk", sa.JSON, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("activates_at", UtcDateTime, nullable=False),
        sa.Column("retires_at", UtcDateTime),
        sa.Column("expires_at", UtcDateTime),
        sa.PrimaryKeyConstraint("kid", name="pk_signing_keys"),
    )
    op.create_table(
        "used_assertions",
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("jti", sa.String(255), nullable=False),
        sa.Column("expires_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("client_id", "jti", name="pk_used_assertions"),
    )
    op.create_index("ix_used_assertions_expires_at", "used_assertions", ["expires_at"])


def downgrade() -> None:
    op.drop_table("used_assertions")
    op.drop_table("signing_keys")
    op.drop_table("agencies")
