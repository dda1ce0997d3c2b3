"""Making someone administrator of an agency's team without an invitation:
for platform set-up (``make run``'s demo staff member), never from a page."""

from __future__ import annotations

from services.console.domain.audit import AuditEntry
from services.console.domain.roles import Role
from services.console.domain.teams import Member, Team
from services.console.service_layer.ports import ConsoleTransactions
from services.runtime.clock import Clock, utcnow
from services.runtime.ids import new_id


def ensure_administrator(
    transactions: ConsoleTransactions,
    *,
    agency_id: str,
    team_name: str,
    subject: str,
    email: str,
    clock: Clock = utcnow,
) -> Team:
    """The agency's team (created in test mode if missing) with ``subject`` as an
    administrator; recorded in its audit trail as the platform's doing."""
    now = clock()
    with transactions() as uow:
        team = uow.teams.by_agency(agency_id)
        if team is None:
            team = Team(new_id("team"), agency_id, team_name, "test", now)
            uow.teams.add(team)
        member = uow.members.get(team.id, subject)
        if member is None:
            uow.members.add(Member(team.id, subject, email, Role.ADMINISTRATOR, False, now))
        elif member.role is not Role.ADMINISTRATOR:
            uow.members.save(Member(team.id, subject, email, Role.ADMINISTRATOR, False, now))
        else:
            return team
        uow.audit.record(AuditEntry(team.id, "platform", "seed_administrator", now))
    return team
