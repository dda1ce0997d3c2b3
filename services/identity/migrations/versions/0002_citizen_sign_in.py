"""Citizen accounts, sessions, authorization codes, user tokens, consents, audit
events; OpenID Connect metadata on agencies; sealed signing keys.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

from services.runtime.db_types import UtcDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("email_verified", sa.Boolean, nullable=False),
        sa.Column("password_hash", sa.String(200), nullable=False),
        sa.Column("totp_secret", sa.String(400)),
        sa.Column("totp_last_step", sa.BigInteger),
        sa.Column("given_name", sa.String(200)),
        sa.Column("family_name", sa.String(200)),
        sa.Column("phone_number", sa.String(32)),
        sa.Column("phone_number_verified", sa.Boolean, nullable=False),
        sa.Column("address", sa.JSON),
        sa.Column("locale", sa.String(16)),
        sa.Column("failed_attempts", sa.Integer, nullable=False),
        sa.Column("locked_until", UtcDateTime),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_accounts"),
        sa.UniqueConstraint("email", name="uq_accounts_email"),
    )
    op.create_table(
        "sessions",
        sa.Column("id_hash", sa.String(64), nullable=False),
        sa.Column("sid", sa.String(40), nullable=False),
        sa.Column("account_id", sa.String(40), nullable=False),
        sa.Column("auth_time", UtcDateTime, nullable=False),
        sa.Column("acr", sa.String(16), nullable=False),
        sa.Column("amr", sa.JSON, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("last_seen_at", UtcDateTime, nullable=False),
        sa.Column("ended_at", UtcDateTime),
        sa.PrimaryKeyConstraint("id_hash", name="pk_sessions"),
        sa.UniqueConstraint("sid", name="uq_sessions_sid"),
    )
    op.create_index("ix_sessions_account_id", "sessions", ["account_id"])
    op.create_table(
        "pending_authorizations",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("params", sa.JSON, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("expires_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_pending_authorizations"),
    )
    op.create_index(
        "ix_pending_authorizations_expires_at", "pending_authorizations", ["expires_at"]
    )
    op.create_table(
        "authorization_codes",
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("account_id", sa.String(40), nullable=False),
        sa.Column("sid", sa.String(40), nullable=False),
        sa.Column("redirect_uri", sa.String(2000), nullable=False),
        sa.Column("scope", sa.String(1000), nullable=False),
        sa.Column("nonce", sa.String(500)),
        sa.Column("code_challenge", sa.String(128), nullable=False),
        sa.Column("claims", sa.JSON),
        sa.Column("acr", sa.String(16), nullable=False),
        sa.Column("amr", sa.JSON, nullable=False),
        sa.Column("auth_time", UtcDateTime, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("expires_at", UtcDateTime, nullable=False),
        sa.Column("used_at", UtcDateTime),
        sa.PrimaryKeyConstraint("code_hash", name="pk_authorization_codes"),
    )
    op.create_table(
        "user_tokens",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("account_id", sa.String(40), nullable=False),
        sa.Column("sid", sa.String(40), nullable=False),
        sa.Column("code_hash", sa.String(64)),
        sa.Column("family", sa.String(40)),
        sa.Column("scope", sa.String(1000), nullable=False),
        sa.Column("claims", sa.JSON),
        sa.Column("acr", sa.String(16), nullable=False),
        sa.Column("amr", sa.JSON, nullable=False),
        sa.Column("auth_time", UtcDateTime, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("expires_at", UtcDateTime, nullable=False),
        sa.Column("used_at", UtcDateTime),
        sa.Column("revoked_at", UtcDateTime),
        sa.PrimaryKeyConstraint("id", name="pk_user_tokens"),
    )
    op.create_index("ix_user_tokens_account_id", "user_tokens", ["account_id"])
    op.create_index("ix_user_tokens_sid", "user_tokens", ["sid"])
    op.create_index("ix_user_tokens_code_hash", "user_tokens", ["code_hash"])
    op.create_index("ix_user_tokens_family", "user_tokens", ["family"])
    op.create_table(
        "consents",
        sa.Column("account_id", sa.String(40), nullable=False),
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("scopes", sa.JSON, nullable=False),
        sa.Column("granted_at", UtcDateTime, nullable=False),
        sa.Column("last_used_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("account_id", "client_id", name="pk_consents"),
    )
    op.create_table(
        "audit_events",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("at", UtcDateTime, nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("account_id", sa.String(40)),
        sa.Column("client_id", sa.String(64)),
        sa.Column("ip", sa.String(64)),
        sa.Column("details", sa.JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_events"),
    )
    op.create_index("ix_audit_events_at", "audit_events", ["at"])
    op.create_index("ix_audit_events_type", "audit_events", ["type"])
    op.create_index("ix_audit_events_account_id", "audit_events", ["account_id"])
    op.create_index("ix_audit_events_client_id", "audit_events", ["client_id"])
    op.create_table(
        "instance_secrets",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("value", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_instance_secrets"),
    )
    with op.batch_alter_table("agencies") as agencies:
        agencies.add_column(
            sa.Column("subject_type", sa.String(16), nullable=False, server_default="pairwise")
        )
        agencies.add_column(sa.Column("sector_identifier", sa.String(255)))
        agencies.add_column(
            sa.Column("id_token_alg", sa.String(10), nullable=False, server_default="ES256")
        )
        agencies.add_column(sa.Column("post_logout_redirect_uris", sa.JSON))
        agencies.add_column(sa.Column("backchannel_logout_uri", sa.String(2000)))
    with op.batch_alter_table("signing_keys") as keys:
        keys.add_column(sa.Column("sealed", sa.Boolean, nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("signing_keys") as keys:
        keys.drop_column("sealed")
    with op.batch_alter_table("agencies") as agencies:
        for column in (
            "backchannel_logout_uri",
            "post_logout_redirect_uris",
            "id_token_alg",
            "sector_identifier",
            "subject_type",
        ):
            agencies.drop_column(column)
    for table in (
        "instance_secrets",
        "audit_events",
        "consents",
        "user_tokens",
        "authorization_codes",
        "pending_authorizations",
        "sessions",
        "accounts",
    ):
        op.drop_table(table)
