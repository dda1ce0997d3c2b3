"""A team whose agency has an in-memory notify, for the notify pages' use cases."""

from __future__ import annotations

from dataclasses import dataclass

from services.console.domain.roles import Role
from services.console.domain.teams import Member
from services.console.service_layer.acting_for import ActingFor
from services.console.service_layer.message_templates import MessageTemplates
from services.console.service_layer.sending_messages import SendingMessages
from services.console.service_layer.status_callbacks import StatusCallbacks
from tests.fakes.console_acting import FakeAgencyCalls
from tests.fakes.console_notify import FakeNotifyAgency, FakeNotifyApi
from tests.unit.console.support import Console, staff


@dataclass
class NotifyTeam:
    console: Console
    team_id: str
    agency_id: str
    calls: FakeAgencyCalls[FakeNotifyAgency]

    @property
    def notify(self) -> FakeNotifyApi:
        return self.calls.clients[self.agency_id].notify

    @property
    def acting(self) -> ActingFor[FakeNotifyAgency]:
        return ActingFor(self.console.uow, self.calls)

    @property
    def templates(self) -> MessageTemplates:
        return MessageTemplates(self.console.uow, self.acting.connect, self.console.clock)

    @property
    def sending(self) -> SendingMessages:
        return SendingMessages(self.console.uow, self.acting.connect, self.console.clock)

    @property
    def callbacks(self) -> StatusCallbacks:
        return StatusCallbacks(self.console.uow, self.acting.connect, self.console.clock)

    def member(self, name: str, role: Role) -> None:
        who = staff(name)
        self.console.work.members.add(
            Member(self.team_id, who.subject, who.email, role, False, self.console.clock())
        )

    def audit(self) -> list[tuple[str, str, dict[str, str]]]:
        return [(e.actor_email, e.action, e.details) for e in self.console.work.audit.entries]


def notify_team() -> NotifyTeam:
    """``ada`` administers it; ``dev``, ``sam`` and ``vic`` are its developer,
    sender and viewer; the audit trail starts empty."""
    console = Console()
    team = console.teams.sign_up(staff("ada"), "Parks Agency", "req-1").team
    calls = FakeAgencyCalls({team.agency_id: FakeNotifyAgency()})
    found = NotifyTeam(console, team.id, team.agency_id, calls)
    for name, role in (("dev", Role.DEVELOPER), ("sam", Role.SENDER), ("vic", Role.VIEWER)):
        found.member(name, role)
    console.work.audit.entries.clear()
    return found
