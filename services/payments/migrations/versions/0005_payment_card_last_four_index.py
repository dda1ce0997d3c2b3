"""Payments are listed by the last four digits of the card paid with
(ListPayments' card_last_four), always within one agency: the index is on
(tenant, card_last_four) as reference's is.

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_payments_tenant_card_last_four", "payments", ["tenant", "card_last_four"])


def downgrade() -> None:
    op.drop_index("ix_payments_tenant_card_last_four", table_name="payments")
