"""Wrong passwords and wrong second factors counted apart.

Wrong passwords move to ``signin_failures``, counted per email address (and per
address and client address) whether or not the address has an account, so a
locked address reads the same either way. The account keeps only its count of
wrong second-factor answers, which a correct password no longer resets. The old
shared count started again at every correct password, so it is not carried
over: every account starts at zero, and locks in force stay.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

from services.runtime.db_types import UtcDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "signin_failures",
        sa.Column("key", sa.String(80), nullable=False),
        sa.Column("address", sa.String(64), nullable=False),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("locked_until", UtcDateTime),
        sa.Column("expires_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_signin_failures"),
    )
    op.create_index("ix_signin_failures_address", "signin_failures", ["address"])
    op.create_index("ix_signin_failures_expires_at", "signin_failures", ["expires_at"])
    with op.batch_alter_table("accounts") as accounts:
        accounts.add_column(
            sa.Column("failed_second_factor", sa.Integer, nullable=False, server_default="0")
        )
        accounts.drop_column("failed_attempts")


def downgrade() -> None:
    with op.batch_alter_table("accounts") as accounts:
        accounts.add_column(
            sa.Column("failed_attempts", sa.Integer, nullable=False, server_default="0")
        )
        accounts.drop_column("failed_second_factor")
    op.drop_table("signin_failures")
