"""Idempotency keys for the operators' gRPC calls (agencies, accounts).

Revision ID: 0003
Revises: 0002
"""

from alembic import op

from services.runtime import idempotency_sql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    idempotency_sql.create_table(op)


def downgrade() -> None:
    op.drop_table(idempotency_sql.TABLE_NAME)
