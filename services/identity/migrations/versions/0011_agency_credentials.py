"""An agency's credentials after registration, and its consent-page presentation.

- ``agencies.secret_created_at``, ``secret_last_used_at``: the current client
  secret's age and last use (written at most once a minute per secret).
- ``agencies.previous_secret_*``: the secret a rotation replaced, accepted until
  ``previous_secret_expires_at`` (at most two secrets per agency).
- ``agencies.display_name``, ``logo_uri``: what citizens see on the consent page.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

from services.runtime.db_types import UtcDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_TIMES = (
    "secret_created_at",
    "secret_last_used_at",
    "previous_secret_created_at",
    "previous_secret_expires_at",
    "previous_secret_last_used_at",
)


def upgrade() -> None:
    with op.batch_alter_table("agencies") as agencies:
        agencies.add_column(sa.Column("display_name", sa.String(200)))
        agencies.add_column(sa.Column("logo_uri", sa.String(2000)))
        agencies.add_column(sa.Column("previous_secret_hash", sa.String(64)))
        for name in _TIMES:
            agencies.add_column(sa.Column(name, UtcDateTime))
    # Existing secrets are as old as their agency.
    op.execute("UPDATE agencies SET secret_created_at = created_at WHERE secret_hash IS NOT NULL")


def downgrade() -> None:
    with op.batch_alter_table("agencies") as agencies:
        for name in reversed(_TIMES):
            agencies.drop_column(name)
        agencies.drop_column("previous_secret_hash")
        agencies.drop_column("logo_uri")
        agencies.drop_column("display_name")
