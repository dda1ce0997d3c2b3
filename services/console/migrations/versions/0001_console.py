"""Teams, memberships, invitations, the audit trail, browser sessions.

Revision ID: 0001
Revises:
"""

from alembic import op

from services.console.adapters import tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    tables.metadata.create_all(op.get_bind())


def downgrade() -> None:
    tables.metadata.drop_all(op.get_bind())
