"""The FAPI 2.0 security profile: per-agency requirements and DPoP bindings.

- ``agencies.profile``: ``standard`` or ``fapi2`` (the FAPI 2.0 Security
  Profile's rules for that agency); every agency starts ``standard``.
- ``agencies.require_signed_request``: authorization requests must come as a
  signed request object (RFC 9101); ``agencies.dpop_bound``: access tokens
  only bound to a DPoP key (RFC 9449 §5.2 ``dpop_bound_access_tokens``).
- ``authorization_codes.dpop_jkt``: the key a code is bound to by the
  authorization request's ``dpop_jkt`` (RFC 9449 §10); ``user_tokens.dpop_jkt``:
  the key an access or refresh token is bound to.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("agencies") as agencies:
        agencies.add_column(
            sa.Column("profile", sa.String(16), nullable=False, server_default="standard")
        )
        agencies.add_column(
            sa.Column(
                "require_signed_request", sa.Boolean, nullable=False, server_default=sa.false()
            )
        )
        agencies.add_column(
            sa.Column("dpop_bound", sa.Boolean, nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("authorization_codes") as codes:
        codes.add_column(sa.Column("dpop_jkt", sa.String(64)))
    with op.batch_alter_table("user_tokens") as tokens:
        tokens.add_column(sa.Column("dpop_jkt", sa.String(64)))


def downgrade() -> None:
    with op.batch_alter_table("user_tokens") as tokens:
        tokens.drop_column("dpop_jkt")
    with op.batch_alter_table("authorization_codes") as codes:
        codes.drop_column("dpop_jkt")
    with op.batch_alter_table("agencies") as agencies:
        agencies.drop_column("dpop_bound")
        agencies.drop_column("require_signed_request")
        agencies.drop_column("profile")
