"""The console's own tables: teams, members, invitations, the audit trail,
and browser sessions."""

from __future__ import annotations

import sqlalchemy as sa

from services.runtime.db_types import UtcDateTime

metadata = sa.MetaData()

teams = sa.Table(
    "teams",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("agency_id", sa.String(64), nullable=False, unique=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("mode", sa.String(8), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
)

memberships = sa.Table(
    "memberships",
    metadata,
    sa.Column("team_id", sa.String(40), sa.ForeignKey("teams.id"), primary_key=True),
    sa.Column("subject", sa.String(255), primary_key=True, index=True),
    sa.Column("email", sa.String(254), nullable=False),
    sa.Column("role", sa.String(20), nullable=False),
    sa.Column("refunder", sa.Boolean, nullable=False),
    sa.Column("joined_at", UtcDateTime, nullable=False),
)

invitations = sa.Table(
    "invitations",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("team_id", sa.String(40), sa.ForeignKey("teams.id"), nullable=False, index=True),
    sa.Column("email", sa.String(254), nullable=False),
    sa.Column("role", sa.String(20), nullable=False),
    sa.Column("refunder", sa.Boolean, nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("invited_by", sa.String(254), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=False),
    sa.Column("accepted_at", UtcDateTime),
)

audit_entries = sa.Table(
    "audit_entries",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("team_id", sa.String(40), nullable=False),
    sa.Column("actor_email", sa.String(254), nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("details", sa.Text, nullable=False),  # JSON object of strings
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Index("ix_audit_entries_team_at", "team_id", "at"),
)

# A browser session: the cookie holds a random value; only its SHA-256 is stored.
browser_sessions = sa.Table(
    "browser_sessions",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("data", sa.Text, nullable=False),  # JSON: pending sign-in or staff member
    sa.Column("expires_at", UtcDateTime, nullable=False, index=True),
)
