"""Requests to go live: asked by a team's administrator, decided by an operator.

Revision ID: 0004
Revises: 0003
"""

from alembic import op

from services.console.adapters import go_live_tables

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    go_live_tables.metadata.create_all(op.get_bind())


def downgrade() -> None:
    go_live_tables.metadata.drop_all(op.get_bind())
