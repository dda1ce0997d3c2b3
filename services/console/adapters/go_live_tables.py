"""Requests to go live (migration 0004), in their own ``MetaData`` like the
payment links': migration 0001 creates ``tables.metadata`` whole."""

from __future__ import annotations

import sqlalchemy as sa

from services.console.adapters.tables import teams
from services.runtime.db_types import UtcDateTime

metadata = sa.MetaData()

go_live_requests = sa.Table(
    "go_live_requests",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("team_id", sa.String(40), sa.ForeignKey(teams.c.id), nullable=False),
    sa.Column("requested_by", sa.String(255), nullable=False),
    sa.Column("reason", sa.String(1000), nullable=False),
    sa.Column("contact", sa.String(200), nullable=False),
    sa.Column("state", sa.String(10), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("decided_by", sa.String(255)),
    sa.Column("decided_at", UtcDateTime),
    sa.Column("decision_reason", sa.String(1000), nullable=False, server_default=""),
    # the operators' list of pending requests, and a team's latest
    sa.Index("ix_go_live_state_created", "state", "created_at"),
    sa.Index("ix_go_live_team_created", "team_id", "created_at"),
)
