"""Uploaded recipient lists waiting to be sent (migration 0003).

Their own ``MetaData``, like the payment links': migration 0001 creates
``tables.metadata`` whole. ``rows`` and ``problems`` are personal data: emptied
when the upload is sent, the row deleted when it expires (24 hours)."""

from __future__ import annotations

import sqlalchemy as sa

from services.console.adapters.tables import teams
from services.runtime.db_types import UtcDateTime

metadata = sa.MetaData()

bulk_uploads = sa.Table(
    "bulk_uploads",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("team_id", sa.String(40), sa.ForeignKey(teams.c.id), nullable=False),
    sa.Column("uploaded_by", sa.String(255), nullable=False),
    sa.Column("template_id", sa.String(40), nullable=False),
    sa.Column("file_name", sa.String(255), nullable=False),
    # [[line, recipient, {placeholder: value}], ...] and [[line, column, problem], ...]
    sa.Column("rows", sa.JSON, nullable=False),
    sa.Column("problems", sa.JSON, nullable=False),
    sa.Column("bulk_send_id", sa.String(40), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Index("ix_bulk_uploads_created", "created_at"),
)
