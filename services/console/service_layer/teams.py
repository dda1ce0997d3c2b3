"""Agency teams: signing up an agency, the team's members and its audit trail."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace

from services.console.domain.audit import AuditEntry
from services.console.domain.invitations import Invitation
from services.console.domain.roles import Action, Role
from services.console.domain.staff import Staff
from services.console.domain.teams import (
    Member,
    Team,
    check_keeps_an_administrator,
    check_team_name,
)
from services.console.service_layer.access import TeamAccess, authorise, record
from services.console.service_layer.ports import AgencyRegistrar, ConsoleTransactions
from services.runtime.clock import Clock, utcnow
from services.runtime.errors import NotFound, PermissionDenied
from services.runtime.ids import new_id


@dataclass(frozen=True)
class SignedUp:
    team: Team
    client_secret: str  # shown once, never stored by the console


@dataclass(frozen=True)
class TeamOverview:
    access: TeamAccess
    members: list[Member]
    invitations: list[Invitation]


class Teams:
    def __init__(
        self, transactions: ConsoleTransactions, registrar: AgencyRegistrar, clock: Clock = utcnow
    ) -> None:
        self._uow = transactions
        self._registrar = registrar
        self._clock = clock

    def sign_up(self, staff: Staff, raw_name: str, request_id: str) -> SignedUp:
        """Register a test-mode agency at identity and make ``staff`` its
        administrator. ``request_id`` comes from the form: sending it twice
        creates one agency (identity's idempotency), shown once."""
        if not staff.email_verified:
            raise PermissionDenied("Verify your email address with GaaP first")
        name = check_team_name(raw_name)
        key = hashlib.sha256(f"{staff.subject}\0{request_id}".encode()).hexdigest()
        created = self._registrar.create_test_agency(name, "console-signup-" + key[:40])
        now = self._clock()
        with self._uow() as uow:
            team = uow.teams.by_agency(created.agency_id)
            if team is None:
                team = Team(new_id("team"), created.agency_id, name, created.mode, now)
                uow.teams.add(team)
                uow.members.add(
                    Member(team.id, staff.subject, staff.email, Role.ADMINISTRATOR, False, now)
                )
                record(uow, staff, team.id, "sign_up_agency", now, agency_id=created.agency_id)
            elif uow.members.get(team.id, staff.subject) is None:
                raise NotFound("No such team")
        return SignedUp(team, created.client_secret)

    def mine(self, staff: Staff) -> list[TeamAccess]:
        """The teams the staff member belongs to (every team, for an operator)."""
        with self._uow.read() as uow:
            members = {m.team_id: m for m in uow.members.of_subject(staff.subject)}
            teams = uow.teams.all() if staff.operator else []
            teams += [t for tid in members if (t := uow.teams.get(tid)) and t not in teams]
        return [TeamAccess(t, staff, members.get(t.id)) for t in sorted(teams, key=_by_name)]

    def access(self, staff: Staff, team_id: str, action: Action = Action.VIEW_TEAM) -> TeamAccess:
        with self._uow.read() as uow:
            return authorise(uow, staff, team_id, action)

    def overview(self, staff: Staff, team_id: str) -> TeamOverview:
        with self._uow.read() as uow:
            access = authorise(uow, staff, team_id, Action.VIEW_TEAM)
            members = sorted(uow.members.of_team(team_id), key=lambda m: m.email)
            invitations = uow.invitations.pending(team_id, self._clock())
        return TeamOverview(access, members, invitations)

    def change_role(
        self, staff: Staff, team_id: str, subject: str, role: Role, refunder: bool
    ) -> None:
        now = self._clock()
        with self._uow() as uow:
            authorise(uow, staff, team_id, Action.CHANGE_ROLE)
            member = uow.members.get(team_id, subject)
            if member is None:
                raise NotFound("No such member")
            check_keeps_an_administrator(uow.members.of_team(team_id), subject, role)
            uow.members.save(replace(member, role=role, refunder=refunder))
            record(
                uow,
                staff,
                team_id,
                Action.CHANGE_ROLE,
                now,
                role=role.value,
                refunder=str(refunder).lower(),
            )

    def remove(self, staff: Staff, team_id: str, subject: str) -> None:
        now = self._clock()
        with self._uow() as uow:
            authorise(uow, staff, team_id, Action.REMOVE_MEMBER)
            if uow.members.get(team_id, subject) is None:
                raise NotFound("No such member")
            check_keeps_an_administrator(uow.members.of_team(team_id), subject, None)
            uow.members.remove(team_id, subject)
            record(uow, staff, team_id, Action.REMOVE_MEMBER, now)

    def audit_trail(self, staff: Staff, team_id: str) -> tuple[TeamAccess, list[AuditEntry]]:
        with self._uow.read() as uow:
            access = authorise(uow, staff, team_id, Action.VIEW_AUDIT)
            return access, uow.audit.of_team(team_id)


def _by_name(team: Team) -> tuple[str, str]:
    return team.name.lower(), team.id
