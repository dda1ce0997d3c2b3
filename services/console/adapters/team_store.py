"""SQL for teams and their members."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from services.console.adapters.tables import memberships, teams
from services.console.domain.roles import Role
from services.console.domain.teams import Member, Team


def _team(row: Any) -> Team:
    return Team(row.id, row.agency_id, row.name, row.mode, row.created_at)


def _member(row: Any) -> Member:
    return Member(row.team_id, row.subject, row.email, Role(row.role), row.refunder, row.joined_at)


class Teams:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, team: Team) -> None:
        self._session.execute(
            teams.insert().values(
                id=team.id,
                agency_id=team.agency_id,
                name=team.name,
                mode=team.mode,
                created_at=team.created_at,
            )
        )

    def get(self, team_id: str) -> Team | None:
        row = self._session.execute(sa.select(teams).where(teams.c.id == team_id)).first()
        return _team(row) if row else None

    def by_agency(self, agency_id: str) -> Team | None:
        row = self._session.execute(sa.select(teams).where(teams.c.agency_id == agency_id)).first()
        return _team(row) if row else None

    def all(self, limit: int = 200) -> list[Team]:
        rows = self._session.execute(sa.select(teams).order_by(teams.c.name).limit(limit))
        return [_team(r) for r in rows]

    def set_mode(self, team_id: str, mode: str) -> None:
        self._session.execute(teams.update().where(teams.c.id == team_id).values(mode=mode))


class Members:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, member: Member) -> None:
        self._session.execute(memberships.insert().values(**_values(member)))

    def get(self, team_id: str, subject: str) -> Member | None:
        row = self._session.execute(
            sa.select(memberships).where(
                memberships.c.team_id == team_id, memberships.c.subject == subject
            )
        ).first()
        return _member(row) if row else None

    def save(self, member: Member) -> None:
        self._session.execute(
            memberships.update()
            .where(memberships.c.team_id == member.team_id, memberships.c.subject == member.subject)
            .values(role=member.role.value, refunder=member.refunder, email=member.email)
        )

    def remove(self, team_id: str, subject: str) -> None:
        self._session.execute(
            memberships.delete().where(
                memberships.c.team_id == team_id, memberships.c.subject == subject
            )
        )

    def of_team(self, team_id: str) -> list[Member]:
        rows = self._session.execute(
            sa.select(memberships)
            .where(memberships.c.team_id == team_id)
            .order_by(memberships.c.email)
        )
        return [_member(r) for r in rows]

    def of_subject(self, subject: str) -> list[Member]:
        rows = self._session.execute(sa.select(memberships).where(memberships.c.subject == subject))
        return [_member(r) for r in rows]


def _values(member: Member) -> dict[str, Any]:
    return {
        "team_id": member.team_id,
        "subject": member.subject,
        "email": member.email,
        "role": member.role.value,
        "refunder": member.refunder,
        "joined_at": member.joined_at,
    }
