"""A team's payments through the console, on fakes: who may list, read, export
and refund, with which scopes, and how payments' refusals become form errors."""

from __future__ import annotations

import pytest
from gaap.payments.v1 import payments_pb2 as pb

from services.console.domain.roles import Role
from services.console.domain.teams import Member
from services.console.service_layer.acting_for import ActingFor
from services.console.service_layer.payments_console import (
    EXPORT_CAP,
    Filters,
    PaymentsConsole,
    check_filters,
    check_period,
    parse_amount,
)
from services.runtime.errors import InvalidArgument, NotFound, PermissionDenied
from tests.fakes.console_acting import FakeAgencyCalls
from tests.fakes.console_payments import FakeAgencyPayments, FakePayments
from tests.unit.console.support import Console, staff

KEY = "k" * 32


def setup(
    role: Role = Role.VIEWER, *, refunder: bool = False
) -> tuple[Console, PaymentsConsole, FakePayments, FakeAgencyCalls[FakeAgencyPayments], str]:
    console = Console()
    team = console.teams.sign_up(staff("ada"), "Parks Agency", "req-1").team
    bea = staff("bea")
    console.work.members.add(
        Member(team.id, bea.subject, bea.email, role, refunder, console.clock())
    )
    client = FakeAgencyPayments()
    calls = FakeAgencyCalls({team.agency_id: client})
    use_case = PaymentsConsole(ActingFor(console.uow, calls), console.clock)
    return console, use_case, client.payments, calls, team.id


def test_a_viewer_lists_the_teams_payments_newest_first_with_payments_read_only() -> None:
    _, use_case, payments, calls, team_id = setup()
    first, second = payments.add(reference="A"), payments.add(reference="B")
    page = use_case.transactions(staff("bea"), team_id, Filters())
    assert [p.id for p in page.payments] == [second.id, first.id]
    assert calls.connected == [(calls.connected[0][0], ("payments:read",))]


def test_filters_reach_payments_and_the_end_date_includes_its_day() -> None:
    _, use_case, payments, _, team_id = setup()
    payments.add(reference="A", email="a@example.com")
    payments.add(reference="A", email="a@example.com", last_four="1111")
    filters = check_filters("success", " A ", "a@example.com", "2026-01-05", "2026-01-05", " 4242 ")
    page = use_case.transactions(staff("bea"), team_id, filters)
    assert len(page.payments) == 1
    [sent] = payments.list_requests
    assert (sent.reference, sent.card_last_four) == ("A", "4242")
    assert sent.state == pb.PAYMENT_STATE_SUCCESS
    assert sent.created_after.ToJsonString() == "2026-01-05T00:00:00Z"
    assert sent.created_before.ToJsonString() == "2026-01-06T00:00:00Z"


@pytest.mark.parametrize(
    ("form", "field"),
    [
        (("paid", "", "", "", ""), "state"),
        (("", "x" * 256, "", "", ""), "reference"),
        (("", "", "", "2026-13-01", ""), "created_from"),
        (("", "", "", "2026-01-05", "2026-01-04"), "created_to"),
        (("", "", "", "", "", "424"), "card_last_four"),
        (("", "", "", "", "", "42a2"), "card_last_four"),
        (("", "", "", "", "", "４２４２"), "card_last_four"),
    ],
)
def test_bad_filters_name_their_field(form: tuple[str, ...], field: str) -> None:
    with pytest.raises(InvalidArgument) as refused:
        check_filters(*form)
    assert [v.field for v in refused.value.violations] == [field]


def test_pages_follow_payments_page_tokens_and_a_forged_token_is_a_clear_error() -> None:
    _, use_case, payments, _, team_id = setup()
    for _ in range(51):
        payments.add()
    first = use_case.transactions(staff("bea"), team_id, Filters())
    second = use_case.transactions(staff("bea"), team_id, Filters(), first.next_page_token)
    assert (len(first.payments), len(second.payments), second.next_page_token) == (50, 1, "")
    with pytest.raises(InvalidArgument):
        use_case.transactions(staff("bea"), team_id, Filters(), "forged")


def test_someone_outside_the_team_sees_nothing() -> None:
    _, use_case, payments, calls, team_id = setup()
    payments.add()
    with pytest.raises(NotFound):
        use_case.transactions(staff("eve"), team_id, Filters())
    with pytest.raises(NotFound):
        use_case.export(staff("eve"), team_id, Filters())
    assert calls.connected == []


def test_the_export_reads_every_page_up_to_the_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    _, use_case, payments, calls, team_id = setup()
    for _ in range(7):
        payments.add()
    monkeypatch.setattr("services.console.service_layer.payments_console.EXPORT_PAGE", 3)
    whole = use_case.export(staff("bea"), team_id, Filters())
    assert (len(list(whole)), whole.truncated) == (7, False)
    assert calls.open == 0
    monkeypatch.setattr("services.console.service_layer.payments_console.EXPORT_CAP", 5)
    capped = use_case.export(staff("bea"), team_id, Filters())
    assert (len(list(capped)), capped.truncated) == (5, True)
    assert calls.open == 0  # the client is closed though its pages were not all read
    assert EXPORT_CAP > 5


def test_one_payment_with_its_events_and_refunds_and_an_unknown_one_is_not_found() -> None:
    _, use_case, payments, _, team_id = setup()
    payment = payments.add()
    detail = use_case.payment(staff("bea"), team_id, payment.id)
    assert detail.payment.id == payment.id
    assert [e.type for e in detail.events] == ["payment.created"]
    assert detail.refunds == []
    with pytest.raises(NotFound):
        use_case.payment(staff("bea"), team_id, "pay_theirs")


def test_a_refunder_refunds_once_per_key_with_the_refund_scope_and_it_is_audited() -> None:
    console, use_case, payments, calls, team_id = setup(Role.VIEWER, refunder=True)
    payment = payments.add(amount=1050)
    refund = use_case.refund(staff("bea"), team_id, payment.id, 500, 1050, KEY)
    again = use_case.refund(staff("bea"), team_id, payment.id, 500, 550, KEY)
    assert again.id == refund.id
    assert payments.payments[0].refundable_amount == 550
    assert calls.connected[-1][1] == ("payments:read", "payments:refund")
    entries = [e for e in console.work.audit.entries if e.action == "refund"]
    assert [e.details for e in entries] == [
        {"payment_id": payment.id, "refund_id": refund.id, "amount": "500", "currency": "GBP"}
    ] * 2


@pytest.mark.parametrize("role", list(Role))
def test_no_role_refunds_without_the_refunder_permission(role: Role) -> None:
    _, use_case, payments, calls, team_id = setup(role)
    payment = payments.add()
    with pytest.raises(PermissionDenied):
        use_case.refund(staff("bea"), team_id, payment.id, 100, 1050, KEY)
    with pytest.raises(PermissionDenied):
        use_case.refundable(staff("bea"), team_id, payment.id)
    assert payments.refund_keys == {}
    assert calls.connected == []


@pytest.mark.parametrize(
    ("amount", "expected", "message"),
    [
        (2000, 1050, "The amount is more than is left to refund"),
        (100, 900, "Someone refunded this payment meanwhile: check the amount left and try again"),
    ],
)
def test_payments_refusals_are_the_amounts_error_and_nothing_is_audited(
    amount: int, expected: int, message: str
) -> None:
    console, use_case, payments, _, team_id = setup(refunder=True)
    payment = payments.add(amount=1050)
    with pytest.raises(InvalidArgument) as refused:
        use_case.refund(staff("bea"), team_id, payment.id, amount, expected, KEY)
    assert [(v.field, v.description) for v in refused.value.violations] == [("amount", message)]
    assert payments.refund_keys == {}
    assert [e for e in console.work.audit.entries if e.action == "refund"] == []


def test_a_refund_without_the_confirmation_forms_key_is_refused() -> None:
    _, use_case, payments, _, team_id = setup(refunder=True)
    payment = payments.add()
    with pytest.raises(InvalidArgument):
        use_case.refund(staff("bea"), team_id, payment.id, 100, 1050, "")
    assert payments.refund_keys == {}


@pytest.mark.parametrize(
    ("raw", "currency", "minor"),
    [("12.50", "GBP", 1250), ("1,000", "GBP", 100000), ("500", "JPY", 500), ("0.01", "GBP", 1)],
)
def test_amounts_are_read_in_the_currencys_units(raw: str, currency: str, minor: int) -> None:
    assert parse_amount(raw, currency) == minor


@pytest.mark.parametrize("raw", ["", "abc", "0", "-1", "1.005", "0.5 ", "nan", "inf", "1e400"])
def test_bad_amounts_are_refused(raw: str) -> None:
    currency = "JPY" if raw == "0.5 " else "GBP"
    with pytest.raises(InvalidArgument):
        parse_amount(raw, currency)


def test_the_reconciliation_report_of_whole_days_and_every_line_for_the_csv(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, use_case, payments, calls, team_id = setup(refunder=True)
    for _ in range(3):
        payments.add(amount=1000)
    use_case.refund(staff("bea"), team_id, "pay_0001", 250, 1000, KEY)
    period = check_period("2026-01-05", "2026-01-05", "gbp")
    assert (period.start.isoformat(), period.end.isoformat(), period.currency) == (
        "2026-01-05T00:00:00+00:00",
        "2026-01-06T00:00:00+00:00",
        "GBP",
    )
    report = use_case.reconciliation(staff("bea"), team_id, period)
    assert (report.captured_total, report.refunded_total, report.net_total) == (3000, 250, 2750)
    assert calls.connected[-1][1] == ("payments:read",)
    monkeypatch.setattr("services.console.service_layer.payments_console.EXPORT_PAGE", 2)
    lines = list(use_case.reconciliation_lines(staff("bea"), team_id, period))
    assert [line.kind for line in lines] == ["capture", "refund", "capture", "capture"]
    empty = use_case.reconciliation(
        staff("bea"), team_id, check_period("2026-02-01", "2026-02-02", "")
    )
    assert list(empty.lines) == []


def test_a_report_covers_up_to_366_days() -> None:
    period = check_period("2025-01-01", "2026-01-01", "GBP")  # 366 days, 2026-01-01 included
    assert (period.end - period.start).days == 366


@pytest.mark.parametrize(
    ("start", "end", "currency", "field"),
    [
        ("", "2026-01-05", "GBP", "start"),
        ("2026-01-05", "", "GBP", "end"),
        ("2026-01-05", "2026-01-04", "GBP", "end"),
        ("2025-01-01", "2026-01-02", "GBP", "end"),  # 367 days
        ("2026-01-05", "2026-01-05", "£", "currency"),
    ],
)
def test_a_bad_report_range_names_its_field(
    start: str, end: str, currency: str, field: str
) -> None:
    with pytest.raises(InvalidArgument) as refused:
        check_period(start, end, currency)
    assert [v.field for v in refused.value.violations] == [field]


def test_someone_outside_the_team_gets_no_report() -> None:
    _, use_case, _, calls, team_id = setup()
    period = check_period("2026-01-05", "2026-01-05", "GBP")
    with pytest.raises(NotFound):
        use_case.reconciliation(staff("eve"), team_id, period)
    with pytest.raises(NotFound):
        use_case.reconciliation_lines(staff("eve"), team_id, period)
    assert calls.connected == []
