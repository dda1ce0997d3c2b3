"""Payment links and the payments made through them.

Revision ID: 0002
Revises: 0001
"""

from alembic import op

from services.console.adapters import payment_link_tables

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    payment_link_tables.metadata.create_all(op.get_bind())


def downgrade() -> None:
    payment_link_tables.metadata.drop_all(op.get_bind())
