"""A payment records the provider reference of an authorisation that landed after
it stopped taking it (its page expired or was cancelled while the card was being
authorised), until that hold is released; the index lets the sweeper find them.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("payments", sa.Column("late_hold_ref", sa.String(255)))
    op.create_index("ix_payments_late_hold_ref", "payments", ["late_hold_ref"])


def downgrade() -> None:
    op.drop_index("ix_payments_late_hold_ref", table_name="payments")
    with op.batch_alter_table("payments") as batch:
        batch.drop_column("late_hold_ref")
