"""Inviting staff to a team by email (sent through notify) and accepting.

The invitation email carries a link with a random token; accepting needs a
signed-in staff member whose verified email address, as identity reports it, is
the one invited. Accepting twice, late, or as someone else changes nothing.
"""

from __future__ import annotations

import secrets
from dataclasses import replace

from services.console.domain.invitations import (
    Invitation,
    check_email,
    expires,
    hash_token,
)
from services.console.domain.roles import Action, Role
from services.console.domain.staff import Staff
from services.console.domain.teams import Member, Team
from services.console.service_layer.access import authorise, record
from services.console.service_layer.ports import ConsoleTransactions, InvitationMailer
from services.runtime.clock import Clock, utcnow
from services.runtime.errors import AlreadyExists, FailedPrecondition, NotFound, PermissionDenied
from services.runtime.ids import new_id


class Invitations:
    def __init__(
        self,
        transactions: ConsoleTransactions,
        mailer: InvitationMailer,
        public_url: str,
        clock: Clock = utcnow,
    ) -> None:
        self._uow = transactions
        self._mailer = mailer
        self._public_url = public_url
        self._clock = clock

    def invite(
        self,
        staff: Staff,
        team_id: str,
        raw_email: str,
        role: Role,
        refunder: bool,
        language: str,
    ) -> Invitation:
        email = check_email(raw_email)
        token = secrets.token_urlsafe(32)
        now = self._clock()
        with self._uow() as uow:
            access = authorise(uow, staff, team_id, Action.INVITE_MEMBER)
            if any(m.email == email for m in uow.members.of_team(team_id)):
                raise AlreadyExists("That person is already in the team")
            invitation = Invitation(
                new_id("inv"),
                team_id,
                email,
                role,
                refunder,
                hash_token(token),
                staff.email,
                now,
                expires(now),
            )
            uow.invitations.add(invitation)
            record(
                uow, staff, team_id, Action.INVITE_MEMBER, now,
                invitation=invitation.id, role=role.value,
            )  # fmt: skip
        # Sent after the commit: a failed send leaves an invitation nobody has,
        # which expires; sending first could mail a link that never works.
        self._mailer.send_invitation(
            to=email,
            team_name=access.team.name,
            inviter=staff.email,
            link=f"{self._public_url}/invitations/{token}",
            language=language,
            key=invitation.id,
        )
        return invitation

    def preview(self, token: str) -> tuple[Invitation, Team]:
        """The invitation behind a link, if it can still be accepted."""
        with self._uow.read() as uow:
            invitation = uow.invitations.by_token_hash(hash_token(token))
            team = uow.teams.get(invitation.team_id) if invitation else None
        if invitation is None or team is None or not invitation.pending(self._clock()):
            raise NotFound("This invitation has expired or has already been used")
        return invitation, team

    def accept(self, staff: Staff, token: str) -> Team:
        now = self._clock()
        with self._uow() as uow:
            invitation = uow.invitations.by_token_hash(hash_token(token))
            team = uow.teams.get(invitation.team_id) if invitation else None
            if invitation is None or team is None or not invitation.pending(now):
                raise NotFound("This invitation has expired or has already been used")
            if not staff.email_verified or staff.email != invitation.email:
                raise PermissionDenied(
                    "This invitation is for another email address: sign in as the person invited"
                )
            if uow.members.get(team.id, staff.subject) is not None:
                raise FailedPrecondition("You are already in this team")
            uow.members.add(
                Member(
                    team.id, staff.subject, staff.email, invitation.role, invitation.refunder, now
                )
            )
            uow.invitations.save(replace(invitation, accepted_at=now))
            record(uow, staff, team.id, "accept_invitation", now, invitation=invitation.id)
        return team
