"""An authorisation that lands after its payment stopped taking it (SQLite and
PostgreSQL): the page expired (the sweeper) or was cancelled (the citizen, the
agency) while the card was being authorised.

A provider wrapper stops the authorisation right after the provider has held
the money, until the test has expired or cancelled the page. Whatever finished
the payment, the hold is released at the provider (the sandbox's charge
cancelled, Stripe's PaymentIntent cancelled), the payment stays as it was
finished, no ledger line, and its events say what happened; a release the
provider fails is done by the next sweep.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import grpc
import pytest
import sqlalchemy as sa
from gaap.payments.v1 import payments_pb2 as pb

from services.payments.adapters import tables as t
from services.payments.domain.cards import Card
from services.payments.domain.payments import PAGE_LIFETIME
from services.payments.domain.providers import ProviderError
from services.payments.service_layer.checkout import Checkout
from services.payments.service_layer.providers import Providers
from tests.integration.payments.fake_stripe import FakeStripe
from tests.integration.payments.races import (
    WAIT,
    Background,
    StopAfter,
    charge_status,
    later,
    ledger_lines,
    stopping,
    sweeper,
)
from tests.integration.payments.support import (
    Agency,
    Payments,
    assert_ledger_consistent,
    payments_service,
)
from tests.support.platform import Platform

CARD = Card(
    number="4242424242424242",
    expiry_month=12,
    expiry_year=2039,
    security_code="123",
    cardholder_name="Ada Citizen",
)
LATE = ["payment.authorised_late", "payment.authorisation_released"]


@pytest.fixture(scope="module")
def live(platform: Platform, database_url: str, stripe_server: FakeStripe) -> Iterator[Payments]:
    """payments with Stripe (the local server) for live agencies, the sandbox for test ones."""
    with payments_service(
        platform,
        database_url,
        stripe_api_key="sk_test_local",
        stripe_api_base=stripe_server.url,
    ) as running:
        yield running


@pytest.fixture(autouse=True)
def ledger_balances(live: Payments) -> Iterator[None]:
    yield
    assert_ledger_consistent(live.sessions)


def opened(payments: Payments, mode: str = "test") -> tuple[Agency, pb.Payment]:
    """A payment whose page the citizen has opened."""
    agency = Agency(payments, mode=mode)
    payment = agency.create()
    payments.app.checkout.open(payment.id)
    return agency, payment


def authorising(payments: Payments, payment_id: str, providers: Providers) -> Background:
    """The citizen's card details sent; the authorisation runs in the background."""
    checkout = Checkout(payments.app.uow, providers, clock=payments.clock)
    return Background(lambda: checkout.submit(payment_id, CARD))


def sandbox_hold(payments: Payments, payment_id: str) -> str:
    """The sandbox charge the authorisation made, as the sandbox itself recorded it
    (under the authorisation's key), whatever payments recorded."""
    with payments.sessions() as session:
        response = session.scalar(
            sa.select(t.sandbox_requests.c.response).where(
                t.sandbox_requests.c.key == f"gaap-{payment_id}-authorise"
            )
        )
    assert response is not None
    return str(response["reference"])


def event_types(agency: Agency, payment_id: str) -> list[str]:
    found = agency.stub.ListPaymentEvents(
        pb.ListPaymentEventsRequest(payment_id=payment_id, page_size=100),
        metadata=agency.metadata,
    )
    return [e.type for e in found.events]


def expire(payments: Payments) -> None:
    """Another replica's sweeper, its clock past the page's 90 minutes."""
    sweeper(payments, payments.app.providers, later(payments, PAGE_LIFETIME)).run_once()


def cancel_by_citizen(payments: Payments, agency: Agency, payment_id: str) -> None:
    payments.app.checkout.cancel(payment_id)


def cancel_by_agency(payments: Payments, agency: Agency, payment_id: str) -> None:
    agency.stub.CancelPayment(
        pb.CancelPaymentRequest(payment_id=payment_id, idempotency_key=agency.key()),
        metadata=agency.metadata,
    )


def test_an_authorisation_landing_after_the_page_expired_is_released(live: Payments) -> None:
    agency, payment = opened(live)
    stop, providers = stopping(live, "authorise", payment.id)
    submitting = authorising(live, payment.id, providers)
    assert stop.reached.wait(WAIT)  # the card is held; payments has not recorded it
    expire(live)
    assert agency.get(payment.id).failure_code == pb.FAILURE_CODE_PAGE_EXPIRED
    stop.go_on.set()
    submitting.result()
    assert charge_status(live, sandbox_hold(live, payment.id)) == "cancelled"
    after = agency.get(payment.id)
    assert (after.state, after.failure_code, after.captured_amount) == (
        pb.PAYMENT_STATE_FAILED,
        pb.FAILURE_CODE_PAGE_EXPIRED,
        0,
    )
    assert ledger_lines(live, payment.id) == 0
    assert event_types(agency, payment.id)[-3:] == ["payment.failed", *LATE]


@pytest.mark.parametrize(
    ("cancel", "state", "failure"),
    [
        (cancel_by_citizen, pb.PAYMENT_STATE_FAILED, pb.FAILURE_CODE_CANCELLED_BY_CITIZEN),
        (cancel_by_agency, pb.PAYMENT_STATE_CANCELLED, pb.FAILURE_CODE_CANCELLED_BY_AGENCY),
    ],
    ids=["citizen", "agency"],
)
def test_an_authorisation_landing_after_a_cancel_is_released(
    live: Payments,
    cancel: Callable[[Payments, Agency, str], None],
    state: int,
    failure: int,
) -> None:
    agency, payment = opened(live)
    stop, providers = stopping(live, "authorise", payment.id)
    submitting = authorising(live, payment.id, providers)
    assert stop.reached.wait(WAIT)
    cancel(live, agency, payment.id)
    stop.go_on.set()
    submitting.result()
    assert charge_status(live, sandbox_hold(live, payment.id)) == "cancelled"
    after = agency.get(payment.id)
    assert (after.state, after.failure_code, after.captured_amount) == (state, failure, 0)
    assert ledger_lines(live, payment.id) == 0
    assert event_types(agency, payment.id)[-2:] == LATE
    # Nothing the agency can do turns the released hold into money taken.
    with pytest.raises(grpc.RpcError) as refused:
        agency.stub.CapturePayment(
            pb.CapturePaymentRequest(payment_id=payment.id, idempotency_key=agency.key()),
            metadata=agency.metadata,
        )
    assert refused.value.code() is grpc.StatusCode.FAILED_PRECONDITION


def test_a_late_stripe_authorisation_has_its_intent_cancelled(
    live: Payments, stripe_server: FakeStripe
) -> None:
    agency, payment = opened(live, mode="live")
    stop, providers = stopping(live, "authorise", payment.id, provider="stripe")
    submitting = authorising(live, payment.id, providers)
    assert stop.reached.wait(WAIT)
    expire(live)
    stop.go_on.set()
    submitting.result()
    [intent] = stripe_server.intents_for(payment.id)
    assert intent["status"] == "canceled"
    release = [c for c in stripe_server.calls if c.path.endswith(f"/{intent['id']}/cancel")]
    assert [c.idempotency_key for c in release] == [f"gaap-{payment.id}-release-late"]
    after = agency.get(payment.id)
    assert (after.state, after.failure_code) == (
        pb.PAYMENT_STATE_FAILED,
        pb.FAILURE_CODE_PAGE_EXPIRED,
    )
    assert ledger_lines(live, payment.id) == 0
    assert event_types(agency, payment.id)[-2:] == LATE


class ReleaseDown(StopAfter):
    """Stops after the authorisation; the provider is down for the first release."""

    releases_failed = 0

    def cancel(self, *, reference: str, idempotency_key: str) -> None:
        if not self.releases_failed:
            self.releases_failed += 1
            raise ProviderError("the provider is down")
        super().cancel(reference=reference, idempotency_key=idempotency_key)


def test_a_late_hold_whose_release_failed_is_released_by_the_next_sweep(
    live: Payments,
) -> None:
    agency, payment = opened(live)
    down = ReleaseDown(live.app.providers.named("sandbox"), "authorise", payment.id)
    submitting = authorising(live, payment.id, Providers(down))
    assert down.reached.wait(WAIT)
    expire(live)
    down.go_on.set()
    submitting.result()  # the citizen's request ends; the hold is kept on record
    hold = sandbox_hold(live, payment.id)
    assert down.releases_failed == 1
    assert charge_status(live, hold) == "authorised"
    assert event_types(agency, payment.id)[-1] == "payment.authorised_late"
    expire(live)  # the next sweep, on any replica
    assert charge_status(live, hold) == "cancelled"
    assert event_types(agency, payment.id)[-2:] == LATE
    expire(live)  # and once released, it stays settled: nothing is done twice
    assert event_types(agency, payment.id)[-2:] == LATE
    after = agency.get(payment.id)
    assert (after.state, after.failure_code) == (
        pb.PAYMENT_STATE_FAILED,
        pb.FAILURE_CODE_PAGE_EXPIRED,
    )
    assert ledger_lines(live, payment.id) == 0
