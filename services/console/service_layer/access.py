"""Authorisation: every use case that touches a team asks ``authorise`` first,
and records what it did with ``record``.

A staff member who is not in the team gets ``NotFound`` (the team's existence is
not disclosed); a member whose role does not allow the action gets
``PermissionDenied``. Platform operators may read any team (its page and its
audit trail) without being a member, and do nothing else there.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from services.console.domain.audit import AuditEntry
from services.console.domain.roles import Action, may
from services.console.domain.staff import Staff
from services.console.domain.teams import Member, Team
from services.console.service_layer.ports import ConsoleWork
from services.runtime.errors import NotFound, PermissionDenied

OPERATOR_ACTIONS = frozenset({Action.VIEW_TEAM, Action.VIEW_AUDIT})


@dataclass(frozen=True)
class TeamAccess:
    """The signed-in staff member in one team: what the pages are built from."""

    team: Team
    staff: Staff
    member: Member | None  # None for an operator who is not a member

    def may(self, action: Action) -> bool:
        if self.member is None:
            return self.staff.operator and action in OPERATOR_ACTIONS
        return may(self.member.role, action, refunder=self.member.refunder)


def authorise(uow: ConsoleWork, staff: Staff, team_id: str, action: Action) -> TeamAccess:
    team = uow.teams.get(team_id)
    member = uow.members.get(team_id, staff.subject) if team else None
    if team is None or (member is None and not staff.operator):
        raise NotFound("No such team")
    access = TeamAccess(team, staff, member)
    if not access.may(action):
        raise PermissionDenied("Your role in this team does not allow this")
    return access


def record(
    uow: ConsoleWork,
    staff: Staff,
    team_id: str,
    action: Action | str,
    at: datetime,
    **details: str,
) -> None:
    uow.audit.record(AuditEntry(team_id, staff.email, str(action), at, dict(details)))
