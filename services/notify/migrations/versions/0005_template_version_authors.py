"""Who made each template version: ``changed_by`` (free text the caller gives,
such as the console's staff member) and ``actor`` (the client that acted for the
agency, from the verified token), for ListTemplateVersions. Older versions have
neither.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("template_versions") as batch:
        batch.add_column(sa.Column("changed_by", sa.String(320), nullable=False, server_default=""))
        batch.add_column(sa.Column("actor", sa.String(255), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("template_versions") as batch:
        batch.drop_column("actor")
        batch.drop_column("changed_by")
