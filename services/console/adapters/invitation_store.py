"""SQL for invitations (the token's hash only) and the audit trail."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from services.console.adapters.tables import audit_entries, invitations
from services.console.domain.audit import AuditEntry
from services.console.domain.invitations import Invitation
from services.console.domain.roles import Role
from services.runtime.ids import new_id


def _invitation(row: Any) -> Invitation:
    return Invitation(
        id=row.id,
        team_id=row.team_id,
        email=row.email,
        role=Role(row.role),
        refunder=row.refunder,
        token_hash=row.token_hash,
        invited_by=row.invited_by,
        created_at=row.created_at,
        expires_at=row.expires_at,
        accepted_at=row.accepted_at,
    )


class Invitations:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, invitation: Invitation) -> None:
        self._session.execute(
            invitations.insert().values(
                id=invitation.id,
                team_id=invitation.team_id,
                email=invitation.email,
                role=invitation.role.value,
                refunder=invitation.refunder,
                token_hash=invitation.token_hash,
                invited_by=invitation.invited_by,
                created_at=invitation.created_at,
                expires_at=invitation.expires_at,
                accepted_at=invitation.accepted_at,
            )
        )

    def by_token_hash(self, token_hash: str) -> Invitation | None:
        row = self._session.execute(
            sa.select(invitations).where(invitations.c.token_hash == token_hash)
        ).first()
        return _invitation(row) if row else None

    def save(self, invitation: Invitation) -> None:
        self._session.execute(
            invitations.update()
            .where(invitations.c.id == invitation.id)
            .values(accepted_at=invitation.accepted_at)
        )

    def pending(self, team_id: str, now: datetime) -> list[Invitation]:
        rows = self._session.execute(
            sa.select(invitations)
            .where(
                invitations.c.team_id == team_id,
                invitations.c.accepted_at.is_(None),
                invitations.c.expires_at > now,
            )
            .order_by(invitations.c.created_at)
        )
        return [_invitation(r) for r in rows]


class AuditTrail:
    def __init__(self, session: Session) -> None:
        self._session = session

    def record(self, entry: AuditEntry) -> None:
        self._session.execute(
            audit_entries.insert().values(
                id=entry.id or new_id("aud"),
                team_id=entry.team_id,
                actor_email=entry.actor_email,
                action=entry.action,
                details=json.dumps(entry.details, sort_keys=True),
                at=entry.at,
            )
        )

    def of_team(self, team_id: str, limit: int = 200) -> list[AuditEntry]:
        rows = self._session.execute(
            sa.select(audit_entries)
            .where(audit_entries.c.team_id == team_id)
            .order_by(audit_entries.c.at.desc(), audit_entries.c.id.desc())
            .limit(limit)
        )
        return [
            AuditEntry(r.team_id, r.actor_email, r.action, r.at, json.loads(r.details), r.id)
            for r in rows
        ]
