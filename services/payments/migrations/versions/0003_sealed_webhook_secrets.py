"""Webhook signing secrets are sealed at rest with PAYMENTS_KEY_ENCRYPTION_KEY:
the column grows to hold a sealed secret (prefix, nonce and tag in base64).

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("webhook_subscriptions") as batch:
        batch.alter_column(
            "secret", existing_type=sa.String(100), type_=sa.String(255), existing_nullable=False
        )


def downgrade() -> None:
    with op.batch_alter_table("webhook_subscriptions") as batch:
        batch.alter_column(
            "secret", existing_type=sa.String(255), type_=sa.String(100), existing_nullable=False
        )
