"""CreatePayment (fresh, replayed, conflicting), GetPayment, ListPayments and
ListPaymentEvents on the fakes, with the one-step create declined and offered."""

from __future__ import annotations

from datetime import timedelta

import pytest
from google.protobuf.wrappers_pb2 import StringValue

from services.payments.domain.payments import State
from services.payments.domain.views import PaymentFilter
from services.payments.domain.webhooks import Subscription
from services.runtime.errors import AlreadyExists, InvalidArgument, NotFound
from services.runtime.pagination import PageRequest
from tests.unit.payments.conftest import AGENCY, OTHER, World, caller, key, new_payment

FIRST = PageRequest(size=50, after=None)


def test_a_new_payment_is_stored_created_with_its_event_and_its_key(w: World) -> None:
    payment = w.payments.create(caller(), new_payment(amount=1234), key("k"))
    assert (payment.state, payment.amount, payment.tenant) == (State.CREATED, 1234, AGENCY)
    assert payment.provider == "sandbox"
    assert payment.agency_name == "Parking Agency"
    assert payment.created_at == w.clock.now
    assert w.stored(payment.id) == payment
    assert w.state.events.types(payment.id) == ["payment.created"]
    _fingerprint, response = w.state.idempotency.rows[(AGENCY, "k")]
    assert response is not None
    assert StringValue.FromString(response).value == payment.id


def test_the_one_step_create_is_taken_when_the_store_offers_it(w: World) -> None:
    w.payments.create(caller(), new_payment(), key("k"))
    assert w.uow.created_at_once == (1 if w.uow.at_once else 0)


def test_a_replay_returns_the_first_payment_as_it_is_now(w: World) -> None:
    first = w.payments.create(caller(), new_payment(), key("k"))
    w.checkout.open(first.id)  # it has moved on since
    again = w.payments.create(caller(), new_payment(), key("k"))
    assert again.id == first.id
    assert again.state is State.STARTED
    assert list(w.state.payments.rows) == [first.id]


def test_a_key_reused_for_another_request_is_refused_and_changes_nothing(w: World) -> None:
    w.payments.create(caller(), new_payment(amount=100), key("k", request="first"))
    with pytest.raises(AlreadyExists):
        w.payments.create(caller(), new_payment(amount=200), key("k", request="second"))
    assert [p.amount for p in w.state.payments.rows.values()] == [100]


def test_keys_are_the_agency_own(w: World) -> None:
    mine = w.payments.create(caller(AGENCY), new_payment(), key("k", AGENCY))
    theirs = w.payments.create(caller(OTHER), new_payment(), key("k", OTHER))
    assert mine.id != theirs.id
    assert theirs.tenant == OTHER


def test_a_live_agency_uses_the_sandbox_while_no_live_provider_is_set(w: World) -> None:
    payment = w.payments.create(caller(mode="live"), new_payment(), key("k"))
    assert payment.provider == "sandbox"


def test_the_created_webhook_goes_to_each_active_subscription_that_wants_it(w: World) -> None:
    subs = w.state.subscriptions
    at = w.clock.now
    subs.add(Subscription("whs_all", AGENCY, "https://a.example/all", (), at, None), "s1")
    subs.add(
        Subscription("whs_paid", AGENCY, "https://a.example/p", ("payment.succeeded",), at, None),
        "s2",
    )
    subs.add(Subscription("whs_off", AGENCY, "https://a.example/off", (), at, at), "s3")
    subs.add(Subscription("whs_other", OTHER, "https://b.example/all", (), at, None), "s4")
    payment = w.payments.create(caller(), new_payment(), key("k"))
    (queued,) = w.state.deliveries.rows
    assert (queued.subscription_id, queued.event_type) == ("whs_all", "payment.created")
    assert queued.payload["payment"]["id"] == payment.id
    assert queued.payload["id"] == queued.event_id


def test_get_finds_only_the_agency_own_payments(w: World) -> None:
    payment = w.create()
    assert w.payments.get(AGENCY, payment.id) == payment
    with pytest.raises(NotFound):
        w.payments.get(OTHER, payment.id)
    with pytest.raises(NotFound):
        w.payments.get(AGENCY, "pay_missing")


def test_list_is_newest_first_and_pages(w: World) -> None:
    made = [w.create(reference=f"R{i}") for i in range(5)]
    w.create(OTHER)
    first = w.payments.list(AGENCY, PaymentFilter(), PageRequest(2, None))
    assert [p.id for p in first.items] == [made[4].id, made[3].id]
    assert first.next_page_token
    rest = w.payments.list(AGENCY, PaymentFilter(), PageRequest(10, made[3].id))
    assert [p.id for p in rest.items] == [made[2].id, made[1].id, made[0].id]
    assert rest.next_page_token == ""


def test_list_filters(w: World) -> None:
    early = w.create(reference="A", email="x@example.com")
    w.clock.advance(timedelta(hours=1))
    late = w.create(reference="B")
    w.checkout.open(late.id)

    def ids(**filters: object) -> list[str]:
        found = w.payments.list(AGENCY, PaymentFilter(**filters), FIRST)  # type: ignore[arg-type]
        return [p.id for p in found.items]

    assert ids(reference="A") == [early.id]
    assert ids(state=State.STARTED) == [late.id]
    assert ids(email="x@example.com") == [early.id]
    assert ids(created_after=late.created_at) == [late.id]
    assert ids(created_before=late.created_at) == [early.id]


def test_events_list_a_payment_history_in_order_and_page(w: World) -> None:
    payment = w.create()
    w.checkout.open(payment.id)
    found = w.payments.events(AGENCY, payment.id, PageRequest(1, None))
    assert [e.type for e in found.items] == ["payment.created"]
    rest = w.payments.events(AGENCY, payment.id, PageRequest(5, str(found.items[0].seq)))
    assert [(e.type, e.state) for e in rest.items] == [("payment.started", State.STARTED)]


def test_events_of_another_agency_payment_are_not_found(w: World) -> None:
    payment = w.create(OTHER)
    with pytest.raises(NotFound):
        w.payments.events(AGENCY, payment.id, FIRST)


def test_an_events_page_token_not_made_here_is_refused(w: World) -> None:
    payment = w.create()
    with pytest.raises(InvalidArgument):
        w.payments.events(AGENCY, payment.id, PageRequest(5, "not-a-number"))
