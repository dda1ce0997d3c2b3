"""A team's payments webhooks through the console, on fakes: only those who
manage webhooks see and change them, each form does its thing once, and every
change is in the audit trail."""

from __future__ import annotations

import pytest

from services.console.domain.roles import Role
from services.console.domain.teams import Member
from services.console.service_layer.acting_for import ActingFor
from services.console.service_layer.payment_webhooks import PaymentWebhooks
from services.runtime.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from tests.fakes.console_acting import FakeAgencyCalls
from tests.fakes.console_payments import FakeAgencyPayments, FakePaymentsWithWebhooks
from tests.unit.console.support import Console, staff

FORM = "f" * 24


def setup(
    role: Role = Role.DEVELOPER,
) -> tuple[
    Console, PaymentWebhooks, FakePaymentsWithWebhooks, FakeAgencyCalls[FakeAgencyPayments], str
]:
    console = Console()
    team = console.teams.sign_up(staff("ada"), "Parks Agency", "req-1").team
    bea = staff("bea")
    console.work.members.add(Member(team.id, bea.subject, bea.email, role, False, console.clock()))
    client = FakeAgencyPayments()
    calls = FakeAgencyCalls({team.agency_id: client})
    return (
        console,
        PaymentWebhooks(ActingFor(console.uow, calls), console.clock),
        client.payments,
        calls,
        team.id,
    )


def actions(console: Console) -> list[tuple[str, dict[str, str]]]:
    return [(e.action, e.details) for e in console.work.audit.entries if "webhook" in e.action]


def test_a_developer_creates_once_per_form_sees_the_secret_and_it_is_audited() -> None:
    console, webhooks, payments, calls, team_id = setup()
    bea = staff("bea")
    created = webhooks.create(
        bea, team_id, " https://agency.example/hook ", ["payment.succeeded"], FORM
    )
    again = webhooks.create(
        bea, team_id, "https://agency.example/hook", ["payment.succeeded"], FORM
    )
    assert created.signing_secret == again.signing_secret == "whsec_1"
    assert [s.url for s in webhooks.subscriptions(bea, team_id)] == ["https://agency.example/hook"]
    assert list(payments.subscriptions[0].event_types) == ["payment.succeeded"]
    assert calls.connected[0][1] == ("payments:create", "payments:read", "notify:templates")
    assert actions(console)[0] == ("create_webhook", {"subscription_id": created.subscription.id})
    assert "whsec" not in str(console.work.audit.entries)


@pytest.mark.parametrize(
    ("url", "types", "key"),
    [
        ("", [], FORM),
        ("http://agency.example/hook", [], FORM),
        ("https://a.example", ["x"], FORM),
        ("https://a.example", [], ""),
    ],
)
def test_bad_forms_are_refused_and_create_nothing(url: str, types: list[str], key: str) -> None:
    console, webhooks, payments, _, team_id = setup()
    with pytest.raises(InvalidArgument) as refused:
        webhooks.create(staff("bea"), team_id, url, types, key)
    assert [v.field for v in refused.value.violations] == ["url"]
    assert payments.subscriptions == []
    assert actions(console) == []


@pytest.mark.parametrize("role", [Role.VIEWER, Role.SENDER])
def test_roles_that_do_not_manage_webhooks_are_refused_everything(role: Role) -> None:
    _, webhooks, _, calls, team_id = setup(role)
    bea = staff("bea")
    with pytest.raises(PermissionDenied):
        webhooks.subscriptions(bea, team_id)
    with pytest.raises(PermissionDenied):
        webhooks.create(bea, team_id, "https://a.example", [], FORM)
    with pytest.raises(PermissionDenied):
        webhooks.disable(bea, team_id, "whs_0001")
    with pytest.raises(PermissionDenied):
        webhooks.send_test(bea, team_id, "whs_0001", FORM)
    assert calls.connected == []


def test_deliveries_test_events_redelivery_and_disabling() -> None:
    console, webhooks, _, _, team_id = setup()
    bea = staff("bea")
    sub = webhooks.create(bea, team_id, "https://a.example/h", [], FORM).subscription
    tested = webhooks.send_test(bea, team_id, sub.id, "t" * 24)
    assert webhooks.send_test(bea, team_id, sub.id, "t" * 24).id == tested.id  # sent twice
    again = webhooks.redeliver(bea, team_id, sub.id, tested.id, "r" * 24)
    listed = webhooks.deliveries(bea, team_id, sub.id)
    assert [d.id for d in listed.deliveries] == [again.id, tested.id]
    webhooks.disable(bea, team_id, sub.id)
    with pytest.raises(FailedPrecondition):
        webhooks.send_test(bea, team_id, sub.id, "u" * 24)
    assert [a for a, _ in actions(console)] == [
        "create_webhook",
        "test_webhook",
        "test_webhook",
        "redeliver_webhook",
        "disable_webhook",
    ]


def test_an_unknown_subscription_or_delivery_is_not_found() -> None:
    _, webhooks, _, _, team_id = setup()
    bea = staff("bea")
    with pytest.raises(NotFound):
        webhooks.deliveries(bea, team_id, "whs_theirs")
    with pytest.raises(NotFound):
        webhooks.disable(bea, team_id, "whs_theirs")
    with pytest.raises(NotFound):
        webhooks.redeliver(bea, team_id, "whs_theirs", "whd_theirs", FORM)
