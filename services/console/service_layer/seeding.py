"""Making someone administrator of an agency's team without an invitation:
for platform set-up (``make run``'s demo staff member), never from a page."""

from __future__ import annotations

from services.console.domain.audit import AuditEntry
from services.console.domain.payment_links import (
    LinkForm,
    PaymentLink,
    State,
    check_link,
    new_slug,
)
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


DEMO_LINK = LinkForm(
    title="Parking permit (demo)",
    description="A demo fee: pay it with the sandbox card 4242 4242 4242 4242.",
    amount="25.00",
    reference_label="Permit application number",
    reference_max_length="20",
)


def ensure_payment_link(
    transactions: ConsoleTransactions, *, agency_id: str, clock: Clock = utcnow
) -> PaymentLink:
    """The demo agency's team's demo payment link (made once, by the platform)."""
    checked = check_link(DEMO_LINK)
    now = clock()
    with transactions() as uow:
        team = uow.teams.by_agency(agency_id)
        if team is None:
            raise LookupError(f"no team manages the agency {agency_id}")
        for link in uow.payment_links.of_team(team.id):
            if link.title == checked.title and link.created_by == "platform":
                return link
        link = PaymentLink(
            id=new_id("pl"),
            team_id=team.id,
            slug=new_slug(),
            title=checked.title,
            description=checked.description,
            currency=checked.currency,
            fixed_amount=checked.fixed_amount,
            min_amount=checked.min_amount,
            max_amount=checked.max_amount,
            reference=checked.reference,
            return_url="",
            state=State.ACTIVE,
            created_by="platform",
            created_at=now,
        )
        uow.payment_links.add(link)
        uow.audit.record(
            AuditEntry(team.id, "platform", "create_payment_link", now, {"payment_link": link.id})
        )
    return link
