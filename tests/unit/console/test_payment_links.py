"""Payment links' use cases on fakes: who may make, see and pause them, what the
audit trail records, and a citizen paying through one (bounds, pause, double
submit, rate limit, scopes, another team's link)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from services.console.domain.payment_links import LinkForm, State
from services.console.domain.roles import Role
from services.console.domain.teams import Member
from services.console.service_layer.acting_for import ActingFor
from services.console.service_layer.payment_links import (
    LinkPaused,
    PaymentLinks,
    PublicPaymentLinks,
)
from services.runtime.errors import (
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
)
from services.runtime.rate_limit import LocalRateLimiter
from tests.fakes.console_acting import FakeAgencyCalls
from tests.fakes.console_payment_links import FakeLinkAgency, FakeLinkPayments
from tests.unit.console.support import Console, staff

FIXED = LinkForm(title="Parking permit", amount="25", reference_label="Permit number")
BOUNDED = LinkForm(
    title="Donation",
    amount_type="range",
    min_amount="5",
    max_amount="50",
    reference_label="Your name",
    reference_required=False,
    reference_characters="text",
)


@dataclass
class Setup:
    console: Console
    links: PaymentLinks
    public: PublicPaymentLinks
    payments: FakeLinkPayments
    calls: FakeAgencyCalls[FakeLinkAgency]
    team_id: str
    other_team_id: str


def setup(role: Role = Role.SENDER) -> Setup:
    console = Console()
    team = console.teams.sign_up(staff("ada"), "Parks Agency", "req-1").team
    other = console.teams.sign_up(staff("eve"), "Other Agency", "req-2").team
    bea = staff("bea")
    console.work.members.add(Member(team.id, bea.subject, bea.email, role, False, console.clock()))
    agency = FakeLinkAgency()
    calls = FakeAgencyCalls({team.agency_id: agency, other.agency_id: FakeLinkAgency()})
    acting = ActingFor(console.uow, calls)
    public = PublicPaymentLinks(
        console.uow, calls, LocalRateLimiter(lambda: 0.0), "https://console.test", console.clock
    )
    return Setup(
        console,
        PaymentLinks(acting, console.clock),
        public,
        agency.payments,
        calls,
        team.id,
        other.id,
    )


def test_a_sender_makes_a_link_recorded_in_the_audit_trail() -> None:
    s = setup()
    link = s.links.create(staff("bea"), s.team_id, FIXED)
    assert (link.title, link.fixed_amount, link.state, link.created_by) == (
        "Parking permit",
        2500,
        State.ACTIVE,
        "bea@agency.example",
    )
    assert [x.id for x in s.links.of_team(staff("bea"), s.team_id)] == [link.id]
    entry = s.console.work.audit.of_team(s.team_id)[0]
    assert (entry.action, entry.actor_email, entry.details) == (
        "create_payment_link",
        "bea@agency.example",
        {"payment_link": link.id},
    )


@pytest.mark.parametrize("role", [Role.ADMINISTRATOR, Role.SENDER])
def test_roles_that_make_links(role: Role) -> None:
    s = setup(role)
    assert s.links.create(staff("bea"), s.team_id, FIXED).team_id == s.team_id


@pytest.mark.parametrize("role", [Role.VIEWER, Role.DEVELOPER])
def test_roles_that_only_read_links(role: Role) -> None:
    s = setup(role)
    link = s.links.create(staff("ada"), s.team_id, FIXED)
    with pytest.raises(PermissionDenied):
        s.links.create(staff("bea"), s.team_id, FIXED)
    with pytest.raises(PermissionDenied):
        s.links.set_state(staff("bea"), s.team_id, link.id, State.PAUSED)
    assert s.links.show(staff("bea"), s.team_id, link.id).link == link
    assert len(s.links.of_team(staff("bea"), s.team_id)) == 1


def test_a_bad_form_changes_nothing() -> None:
    s = setup()
    with pytest.raises(InvalidArgument):
        s.links.create(staff("bea"), s.team_id, LinkForm(title="Fee"))
    assert s.console.work.payment_links.rows == {}
    assert s.console.work.audit.of_team(s.team_id)[0].action == "sign_up_agency"


def test_another_teams_link_is_not_found() -> None:
    s = setup()
    link = s.links.create(staff("ada"), s.team_id, FIXED)
    with pytest.raises(NotFound):
        s.links.show(staff("eve"), s.team_id, link.id)  # not a member
    with pytest.raises(NotFound):
        s.links.show(staff("eve"), s.other_team_id, link.id)  # their team, not their link
    with pytest.raises(NotFound):
        s.links.set_state(staff("eve"), s.other_team_id, link.id, State.PAUSED)
    assert s.console.work.payment_links.rows[link.id].active


def test_pausing_and_resuming_are_audited_once_each() -> None:
    s = setup()
    link = s.links.create(staff("bea"), s.team_id, FIXED)
    assert s.links.set_state(staff("bea"), s.team_id, link.id, State.PAUSED).state is State.PAUSED
    s.links.set_state(staff("bea"), s.team_id, link.id, State.PAUSED)
    s.links.set_state(staff("bea"), s.team_id, link.id, State.ACTIVE)
    actions = [e.action for e in s.console.work.audit.of_team(s.team_id)]
    assert actions[:3] == ["resume_payment_link", "pause_payment_link", "create_payment_link"]


def test_a_citizen_pays_a_fixed_fee_as_the_agency_with_payments_create_only() -> None:
    s = setup()
    link = s.links.create(staff("bea"), s.team_id, FIXED)
    url = s.public.pay(link.slug, "form-1", "999", " PN-1 ", language="zh-Hans", client="1.2.3.4")
    [sent] = s.payments.created
    assert url == "https://payments.test/pay/pay_0001"
    assert (sent.amount, sent.currency, sent.reference, sent.description) == (
        2500,
        "GBP",
        "PN-1",
        "Parking permit",
    )
    assert sent.language == "zh-Hans"
    assert dict(sent.metadata) == {"payment_link": link.id}
    assert sent.return_url == f"https://console.test/pay/{link.slug}/done/form-1"
    assert s.calls.connected[-1][1] == ("payments:create",)
    shown = s.links.show(staff("bea"), s.team_id, link.id)
    assert [p.id for p in shown.payments] == ["pay_0001"]
    assert s.calls.connected[-1][1] == ("payments:read",)
    assert s.console.work.audit.of_team(s.team_id)[0].action == "create_payment_link"


def test_the_same_form_twice_is_one_payment() -> None:
    s = setup()
    link = s.links.create(staff("bea"), s.team_id, BOUNDED)
    first = s.public.pay(link.slug, "form-1", "10", "", language="en", client="c")
    assert s.public.pay(link.slug, "form-1", "10", "", language="en", client="c") == first
    assert len(s.payments.created) == 1
    assert s.payments.created[0].reference == link.slug, "payments needs one"
    assert len(s.console.work.payment_links.paid) == 1
    with pytest.raises(FailedPrecondition):
        s.public.pay(link.slug, "form-1", "11", "", language="en", client="c")
    s.public.pay(link.slug, "form-2", "10", "", language="en", client="c")
    assert len(s.payments.created) == 2


@pytest.mark.parametrize("amount", ["4.99", "50.01", ""])
def test_amounts_outside_the_bounds_create_nothing(amount: str) -> None:
    s = setup()
    link = s.links.create(staff("bea"), s.team_id, BOUNDED)
    with pytest.raises(InvalidArgument):
        s.public.pay(link.slug, "form-1", amount, "", language="en", client="c")
    assert s.payments.created == []


def test_a_paused_link_takes_no_payment_until_resumed() -> None:
    s = setup()
    link = s.links.create(staff("bea"), s.team_id, FIXED)
    s.links.set_state(staff("bea"), s.team_id, link.id, State.PAUSED)
    with pytest.raises(LinkPaused):
        s.public.pay(link.slug, "form-1", "", "PN1", language="en", client="c")
    assert s.payments.created == []
    s.links.set_state(staff("bea"), s.team_id, link.id, State.ACTIVE)
    s.public.pay(link.slug, "form-1", "", "PN1", language="en", client="c")
    assert len(s.payments.created) == 1


def test_a_client_address_is_limited() -> None:
    s = setup()
    link = s.links.create(staff("bea"), s.team_id, FIXED)
    for n in range(10):
        s.public.pay(link.slug, f"form-{n}", "", "PN1", language="en", client="1.2.3.4")
    with pytest.raises(ResourceExhausted):
        s.public.pay(link.slug, "form-x", "", "PN1", language="en", client="1.2.3.4")
    s.public.pay(link.slug, "form-y", "", "PN1", language="en", client="5.6.7.8")
    assert len(s.payments.created) == 11


@pytest.mark.parametrize("slug", ["", "nope", "abcdefghijkl", "../../etc/pa"])
def test_unknown_slugs_are_not_found(slug: str) -> None:
    s = setup()
    with pytest.raises(NotFound):
        s.public.find(slug)


def test_the_thank_you_page_finds_only_its_forms_payment() -> None:
    s = setup()
    link = s.links.create(staff("bea"), s.team_id, FIXED)
    other = s.links.create(staff("bea"), s.team_id, FIXED)
    s.public.pay(link.slug, "form-1", "", "PN1", language="en", client="c")
    found, payment = s.public.returned(link.slug, "form-1")
    assert found.team.name == "Parks Agency"
    assert payment is not None
    assert payment.id == "pay_0001"
    assert s.calls.connected[-1][1] == ("payments:read",)
    assert s.public.returned(link.slug, "form-2")[1] is None
    assert s.public.returned(other.slug, "form-1")[1] is None
