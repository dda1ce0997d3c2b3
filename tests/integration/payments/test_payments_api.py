"""PaymentsService over real gRPC, on SQLite and PostgreSQL: payments, the
hosted page with each magic card, capture, cancel, refunds, idempotency,
tenant isolation, validation, events and the reconciliation report. The ledger
is checked after every test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta

import grpc
import pytest
from gaap.payments.v1 import payments_pb2 as pb
from google.protobuf.timestamp_pb2 import Timestamp
from google.rpc import error_details_pb2, status_pb2

from tests.integration.payments.support import MAGIC, Agency, Payments, assert_ledger_consistent


@pytest.fixture(autouse=True)
def ledger_balances(payments: Payments) -> Iterator[None]:
    yield
    assert_ledger_consistent(payments.sessions)


def violations(error: grpc.RpcError) -> set[str]:
    for item in error.trailing_metadata() or ():
        if item.key == "grpc-status-details-bin":
            assert isinstance(item.value, bytes)
            status = status_pb2.Status.FromString(item.value)
            for detail in status.details:
                bad = error_details_pb2.BadRequest()
                if detail.Unpack(bad):
                    return {v.field for v in bad.field_violations}
    return set()


def test_create_returns_a_created_payment_with_its_page(payments: Payments) -> None:
    agency = Agency(payments)
    payment = agency.create(
        amount=2500, currency="EUR", metadata={"case": "A-1"}, language="zh-Hans"
    )
    assert payment.id.startswith("pay_")
    assert payment.state == pb.PAYMENT_STATE_CREATED
    assert not payment.finished
    assert payment.next_url.startswith("http://127.0.0.1:8082/pay/")
    assert (payment.amount, payment.currency, payment.provider) == (2500, "EUR", "sandbox")
    assert dict(payment.metadata) == {"case": "A-1"}
    assert agency.get(payment.id) == payment


def test_the_page_names_the_agency_as_identity_registered_it(payments: Payments) -> None:
    import httpx

    agency = Agency(payments)
    registered = payments.platform.admin.registry.get(agency.client_id).name
    page = httpx.get(payments.page_url(agency.create()))
    assert page.status_code == 200
    assert registered in page.text


def test_currency_defaults_to_gbp(payments: Payments) -> None:
    assert Agency(payments).create().currency == "GBP"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"amount": 0}, "amount"),
        ({"amount": -5}, "amount"),
        ({"amount": 10_000_001}, "amount"),
        ({"currency": "XXX"}, "currency"),
        ({"reference": ""}, "reference"),
        ({"reference": "r" * 256}, "reference"),
        ({"description": "d" * 256}, "description"),
        ({"return_url": "ftp://agency.example"}, "return_url"),
        ({"return_url": "http://agency.example/done"}, "return_url"),
        ({"email": "not-an-email"}, "email"),
        ({"language": "fr"}, "language"),
        ({"metadata": {f"k{i}": "v" for i in range(16)}}, "metadata"),
        ({"metadata": {"k" * 31: "v"}}, "metadata." + "k" * 31),
        ({"metadata": {"k": "v" * 101}}, "metadata.k"),
        ({"idempotency_key": ""}, "idempotency_key"),
    ],
)
def test_bad_input_is_invalid_argument_and_stores_nothing(
    payments: Payments, fields: dict[str, object], field: str
) -> None:
    agency = Agency(payments)
    with pytest.raises(grpc.RpcError) as caught:
        agency.create(**fields)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in violations(caught.value)
    listed = agency.stub.ListPayments(pb.ListPaymentsRequest(), metadata=agency.metadata)
    assert list(listed.payments) == []


def test_idempotency_same_request_same_payment_different_request_refused(
    payments: Payments,
) -> None:
    agency = Agency(payments)
    first = agency.create(idempotency_key="same")
    assert agency.create(idempotency_key="same").id == first.id
    with pytest.raises(grpc.RpcError) as caught:
        agency.create(idempotency_key="same", amount=999)
    assert caught.value.code() == grpc.StatusCode.ALREADY_EXISTS
    listed = agency.stub.ListPayments(pb.ListPaymentsRequest(), metadata=agency.metadata)
    assert [p.id for p in listed.payments] == [first.id]
    # Keys are per agency: another agency may use the same key.
    assert Agency(payments).create(idempotency_key="same").id != first.id


def test_another_agencys_payment_is_not_found(payments: Payments) -> None:
    owner, other = Agency(payments), Agency(payments)
    payment = owner.paid()
    calls: list[Callable[[], object]] = [
        lambda: other.get(payment.id),
        lambda: other.stub.CapturePayment(
            pb.CapturePaymentRequest(payment_id=payment.id, idempotency_key="x"),
            metadata=other.metadata,
        ),
        lambda: other.stub.CancelPayment(
            pb.CancelPaymentRequest(payment_id=payment.id, idempotency_key="y"),
            metadata=other.metadata,
        ),
        lambda: other.stub.CreateRefund(
            pb.CreateRefundRequest(payment_id=payment.id, amount=1, idempotency_key="z"),
            metadata=other.metadata,
        ),
        lambda: other.stub.ListPaymentEvents(
            pb.ListPaymentEventsRequest(payment_id=payment.id), metadata=other.metadata
        ),
    ]
    for call in calls:
        with pytest.raises(grpc.RpcError) as caught:
            call()
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    assert owner.get(payment.id).refundable_amount == payment.amount


def test_scopes_are_enforced(payments: Payments) -> None:
    reader = Agency(payments, scopes=["payments:read"])
    with pytest.raises(grpc.RpcError) as caught:
        reader.create()
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED


@pytest.mark.parametrize(
    ("card", "state", "failure"),
    [
        ("success", pb.PAYMENT_STATE_SUCCESS, pb.FAILURE_CODE_UNSPECIFIED),
        ("declined", pb.PAYMENT_STATE_FAILED, pb.FAILURE_CODE_DECLINED),
        ("expired", pb.PAYMENT_STATE_FAILED, pb.FAILURE_CODE_CARD_EXPIRED),
        ("error", pb.PAYMENT_STATE_ERROR, pb.FAILURE_CODE_PROVIDER_ERROR),
    ],
)
def test_each_magic_card_on_the_page(
    payments: Payments, card: str, state: int, failure: int
) -> None:
    agency = Agency(payments)
    payment = agency.create()
    last = agency.pay(payment, MAGIC[card])
    after = agency.get(payment.id)
    assert (after.state, after.failure_code, after.finished) == (state, failure, True)
    assert after.card.last_four == MAGIC[card][-4:]
    assert after.card.brand == "visa"
    assert after.next_url == ""
    if card == "success":
        assert last.status_code == 303
        assert last.headers["location"] == "https://agency.example/done"
        assert after.captured_amount == after.refundable_amount == payment.amount
    else:
        assert 'href="https://agency.example/done"' in last.text
        assert after.captured_amount == 0


def test_events_record_every_state(payments: Payments) -> None:
    agency = Agency(payments)
    payment = agency.paid()
    events = agency.stub.ListPaymentEvents(
        pb.ListPaymentEventsRequest(payment_id=payment.id, page_size=2), metadata=agency.metadata
    )
    types = [e.type for e in events.events]
    while events.next_page_token:
        events = agency.stub.ListPaymentEvents(
            pb.ListPaymentEventsRequest(
                payment_id=payment.id, page_size=2, page_token=events.next_page_token
            ),
            metadata=agency.metadata,
        )
        types += [e.type for e in events.events]
    assert types == [
        "payment.created",
        "payment.started",
        "payment.submitted",
        "payment.authorised",
        "payment.succeeded",
    ]


def test_delayed_capture_waits_for_the_agency(payments: Payments) -> None:
    agency = Agency(payments)
    payment = agency.create(delayed_capture=True)
    agency.pay(payment)
    held = agency.get(payment.id)
    assert held.state == pb.PAYMENT_STATE_CAPTURABLE
    assert held.captured_amount == 0
    assert not held.finished
    request = pb.CapturePaymentRequest(payment_id=payment.id, idempotency_key="cap-1")
    captured = agency.stub.CapturePayment(request, metadata=agency.metadata)
    assert captured.state == pb.PAYMENT_STATE_SUCCESS
    assert captured.captured_amount == payment.amount
    # Replay: the same answer, no second capture.
    assert agency.stub.CapturePayment(request, metadata=agency.metadata).id == payment.id
    with pytest.raises(grpc.RpcError) as caught:
        agency.stub.CapturePayment(
            pb.CapturePaymentRequest(payment_id=payment.id, idempotency_key="cap-2"),
            metadata=agency.metadata,
        )
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION


def test_capture_after_120_hours_is_refused_and_the_sweeper_cancels(payments: Payments) -> None:
    agency = Agency(payments)
    payment = agency.create(delayed_capture=True)
    agency.pay(payment)
    payments.clock.advance(timedelta(hours=120, seconds=1))
    with pytest.raises(grpc.RpcError) as caught:
        agency.stub.CapturePayment(
            pb.CapturePaymentRequest(payment_id=payment.id, idempotency_key="late"),
            metadata=agency.metadata,
        )
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert payments.app.sweeper.run_once() >= 1
    after = agency.get(payment.id)
    assert after.state == pb.PAYMENT_STATE_CANCELLED
    assert after.failure_code == pb.FAILURE_CODE_CAPTURE_WINDOW_EXPIRED


def test_pages_expire_after_90_minutes(payments: Payments) -> None:
    agency = Agency(payments)
    untouched, opened = agency.create(), agency.create()
    agency.pay(opened, confirm=False)  # authorised, awaiting confirmation
    payments.clock.advance(timedelta(minutes=89))
    assert payments.app.sweeper.run_once() == 0
    payments.clock.advance(timedelta(minutes=1))
    payments.app.sweeper.run_once()
    for payment in (untouched, opened):
        after = agency.get(payment.id)
        assert after.state == pb.PAYMENT_STATE_FAILED
        assert after.failure_code == pb.FAILURE_CODE_PAGE_EXPIRED
        assert after.next_url == ""
    # A second sweep (another replica) changes nothing more.
    assert payments.app.sweeper.run_once() == 0


def test_invalid_transition_is_failed_precondition_and_changes_nothing(
    payments: Payments,
) -> None:
    agency = Agency(payments)
    payment = agency.paid()
    with pytest.raises(grpc.RpcError) as caught:
        agency.stub.CancelPayment(
            pb.CancelPaymentRequest(payment_id=payment.id, idempotency_key="c"),
            metadata=agency.metadata,
        )
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert agency.get(payment.id) == payment


def test_agency_cancels_before_and_after_authorisation(payments: Payments) -> None:
    agency = Agency(payments)
    fresh, held = agency.create(), agency.create(delayed_capture=True)
    agency.pay(held)
    for payment in (fresh, held):
        cancelled = agency.stub.CancelPayment(
            pb.CancelPaymentRequest(payment_id=payment.id, idempotency_key=f"c-{payment.id}"),
            metadata=agency.metadata,
        )
        assert cancelled.state == pb.PAYMENT_STATE_CANCELLED
        assert cancelled.failure_code == pb.FAILURE_CODE_CANCELLED_BY_AGENCY


def test_refunds_partial_full_and_too_much(payments: Payments) -> None:
    agency = Agency(payments)
    payment = agency.paid(amount=1000)

    def refund(amount: int, key: str, expected: int | None = None) -> pb.Refund:
        request = pb.CreateRefundRequest(payment_id=payment.id, amount=amount, idempotency_key=key)
        if expected is not None:
            request.expected_available_amount = expected
        result: pb.Refund = agency.stub.CreateRefund(request, metadata=agency.metadata)
        return result

    first = refund(300, "r1")
    assert (first.state, first.amount) == (pb.REFUND_STATE_SUCCESS, 300)
    assert refund(300, "r1").id == first.id  # replay
    assert agency.get(payment.id).refundable_amount == 700
    with pytest.raises(grpc.RpcError) as caught:
        refund(100, "r2", expected=1000)
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    with pytest.raises(grpc.RpcError) as caught:
        refund(701, "r3")
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert refund(700, "r4", expected=700).state == pb.REFUND_STATE_SUCCESS
    assert agency.get(payment.id).refundable_amount == 0
    listed = agency.stub.ListRefunds(
        pb.ListRefundsRequest(payment_id=payment.id), metadata=agency.metadata
    )
    assert [r.amount for r in listed.refunds] == [300, 700]
    got = agency.stub.GetRefund(pb.GetRefundRequest(refund_id=first.id), metadata=agency.metadata)
    assert got == first


def test_refund_of_unpaid_payment_is_refused(payments: Payments) -> None:
    agency = Agency(payments)
    payment = agency.create()
    with pytest.raises(grpc.RpcError) as caught:
        agency.stub.CreateRefund(
            pb.CreateRefundRequest(payment_id=payment.id, amount=1, idempotency_key="r"),
            metadata=agency.metadata,
        )
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION


def test_list_filters_and_pages(payments: Payments) -> None:
    agency = Agency(payments)
    made = [agency.create(reference=f"R{i % 2}", email=f"c{i}@example.com") for i in range(5)]
    page = agency.stub.ListPayments(pb.ListPaymentsRequest(page_size=2), metadata=agency.metadata)
    seen = [p.id for p in page.payments]
    while page.next_page_token:
        page = agency.stub.ListPayments(
            pb.ListPaymentsRequest(page_size=2, page_token=page.next_page_token),
            metadata=agency.metadata,
        )
        seen += [p.id for p in page.payments]
    assert seen == [p.id for p in reversed(made)]
    by_ref = agency.stub.ListPayments(
        pb.ListPaymentsRequest(reference="R1"), metadata=agency.metadata
    )
    assert {p.id for p in by_ref.payments} == {made[1].id, made[3].id}
    by_email = agency.stub.ListPayments(
        pb.ListPaymentsRequest(email="c2@example.com"), metadata=agency.metadata
    )
    assert [p.id for p in by_email.payments] == [made[2].id]
    by_state = agency.stub.ListPayments(
        pb.ListPaymentsRequest(state=pb.PAYMENT_STATE_SUCCESS), metadata=agency.metadata
    )
    assert list(by_state.payments) == []
    later = Timestamp()
    later.FromDatetime(payments.clock() + timedelta(seconds=1))
    none_yet = agency.stub.ListPayments(
        pb.ListPaymentsRequest(created_after=later), metadata=agency.metadata
    )
    assert list(none_yet.payments) == []
    with pytest.raises(grpc.RpcError) as caught:
        agency.stub.ListPayments(pb.ListPaymentsRequest(page_size=501), metadata=agency.metadata)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_list_filters_by_the_cards_last_four_digits(payments: Payments) -> None:
    agency = Agency(payments)
    paid = agency.paid()
    declined = agency.create()
    agency.pay(declined, MAGIC["declined"])
    agency.create()  # no card yet

    def ids(last_four: str) -> list[str]:
        listed = agency.stub.ListPayments(
            pb.ListPaymentsRequest(card_last_four=last_four), metadata=agency.metadata
        )
        return [p.id for p in listed.payments]

    assert ids("4242") == [paid.id]
    assert ids("0002") == [declined.id]
    assert ids("1234") == []
    other = Agency(payments)
    assert (
        other.stub.ListPayments(
            pb.ListPaymentsRequest(card_last_four="4242"), metadata=other.metadata
        ).payments
        == []
    )
    for bad in ("424", "42424", "42a2", "４２４２"):
        with pytest.raises(grpc.RpcError) as caught:
            ids(bad)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert violations(caught.value) == {"card_last_four"}


def test_reconciliation_report_matches_the_ledger(payments: Payments) -> None:
    agency = Agency(payments)
    start = Timestamp()
    start.FromDatetime(payments.clock() - timedelta(minutes=1))
    one, two = agency.paid(amount=1000, reference="A"), agency.paid(amount=500, reference="B")
    agency.stub.CreateRefund(
        pb.CreateRefundRequest(payment_id=one.id, amount=250, idempotency_key="r"),
        metadata=agency.metadata,
    )
    agency.create(amount=9999)  # never paid: not in the report
    end = Timestamp()
    end.FromDatetime(payments.clock() + timedelta(minutes=1))
    report = agency.stub.GetReconciliationReport(
        pb.GetReconciliationReportRequest(start_time=start, end_time=end), metadata=agency.metadata
    )
    assert (report.captured_total, report.refunded_total, report.net_total) == (1500, 250, 1250)
    assert report.ledger_net_total == report.net_total
    assert sorted((line.kind, line.payment_id, line.amount) for line in report.lines) == sorted(
        [("capture", one.id, 1000), ("capture", two.id, 500), ("refund", one.id, 250)]
    )
    assert {line.reference for line in report.lines} == {"A", "B"}


def test_rate_limit_is_resource_exhausted_with_retry_info(
    database_url: str, payments: Payments
) -> None:
    from tests.integration.payments.support import payments_service

    with payments_service(payments.platform, database_url, create_rate_per_second=2) as limited:
        agency = Agency(limited)
        with pytest.raises(grpc.RpcError) as caught:
            [agency.create() for _ in range(5)]
    error = caught.value
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    details = {m.key: m.value for m in error.trailing_metadata() or ()}
    raw = details["grpc-status-details-bin"]
    assert isinstance(raw, bytes)
    status = status_pb2.Status.FromString(raw)
    retry = error_details_pb2.RetryInfo()
    assert any(d.Unpack(retry) for d in status.details)
    assert retry.retry_delay.ToNanoseconds() > 0
