"""Uploaded recipient lists, kept until they are sent or 24 hours pass.

Revision ID: 0003
Revises: 0002
"""

from alembic import op

from services.console.adapters import bulk_upload_tables

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bulk_upload_tables.metadata.create_all(op.get_bind())


def downgrade() -> None:
    bulk_upload_tables.metadata.drop_all(op.get_bind())
