"""The console's transactions page filters one agency's payments by a payer's
email or by state (with a date range), newest first, paged by id. Without these
indexes, on 100,000 payments (bench ``console``), the email filter read the whole
table (40 ms) and the state filter walked the primary key back past every newer
payment (16,000 rows, 16 ms): (tenant, email, id) and (tenant, state, id) answer
both from the index, in id order.

Revision ID: 0006
Revises: 0005
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_payments_tenant_email", "payments", ["tenant", "email", "id"])
    op.create_index("ix_payments_tenant_state", "payments", ["tenant", "state", "id"])


def downgrade() -> None:
    op.drop_index("ix_payments_tenant_state", table_name="payments")
    op.drop_index("ix_payments_tenant_email", table_name="payments")
