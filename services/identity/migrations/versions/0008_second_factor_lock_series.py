"""Second-factor locks in a row escalate.

``accounts.second_factor_locks`` counts the second-factor locks since the last
completed sign-in (or operator's unlock): each lasts twice as long as the one
before, up to a day. Every account starts at zero, so a lock in force keeps its
length and the next one is the first of a series.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("accounts") as accounts:
        accounts.add_column(
            sa.Column("second_factor_locks", sa.Integer, nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("accounts") as accounts:
        accounts.drop_column("second_factor_locks")
