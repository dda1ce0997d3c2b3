"""A payment records who has claimed its authorised hold (a capture or a
release), so a confirmation and the expiry sweeper never act on the same hold.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("payments", sa.Column("hold_claim", sa.String(8)))


def downgrade() -> None:
    with op.batch_alter_table("payments") as batch:
        batch.drop_column("hold_claim")
