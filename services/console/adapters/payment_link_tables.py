"""The console's payment links and the payments made through them.

Their own ``MetaData``: migration 0001 creates ``tables.metadata`` whole, so a
table added there would exist before 0002 ran on a new database."""

from __future__ import annotations

import sqlalchemy as sa

from services.console.adapters.tables import teams
from services.runtime.db_types import UtcDateTime

metadata = sa.MetaData()

payment_links = sa.Table(
    "payment_links",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("team_id", sa.String(40), sa.ForeignKey(teams.c.id), nullable=False),
    sa.Column("slug", sa.String(16), nullable=False, unique=True),
    sa.Column("title", sa.String(100), nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("fixed_amount", sa.BigInteger),
    sa.Column("min_amount", sa.BigInteger),
    sa.Column("max_amount", sa.BigInteger),
    sa.Column("reference_label", sa.String(60), nullable=False),
    sa.Column("reference_required", sa.Boolean, nullable=False),
    sa.Column("reference_max_length", sa.Integer, nullable=False),
    sa.Column("reference_characters", sa.String(20), nullable=False),
    sa.Column("return_url", sa.String(2000), nullable=False),
    sa.Column("state", sa.String(8), nullable=False),
    sa.Column("created_by", sa.String(254), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Index("ix_payment_links_team_created", "team_id", "created_at"),
)

# One row per payment created through a link: the link's page lists them, and the
# thank-you page finds its payment by the hash of the form's key (never the key).
payment_link_payments = sa.Table(
    "payment_link_payments",
    metadata,
    sa.Column("payment_id", sa.String(64), primary_key=True),
    sa.Column("link_id", sa.String(40), sa.ForeignKey(payment_links.c.id), nullable=False),
    sa.Column("form_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Index("ix_payment_link_payments_link_created", "link_id", "created_at"),
)
