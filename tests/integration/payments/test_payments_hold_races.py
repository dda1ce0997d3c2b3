"""A capture and a release of the same hold, racing (SQLite and PostgreSQL).

The confirmation (or the agency's capture) and the expiry sweeper run in two
threads; a provider wrapper stops one of them right after its provider call
until the test has run the other, so each order is forced without sleeps.
Whatever the order, a capture that happened ends ``success`` with its ledger
lines, and a released hold is never captured.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from gaap.payments.v1 import payments_pb2 as pb

from services.payments.adapters import tables as t
from services.payments.domain.payments import CAPTURE_WINDOW, PAGE_LIFETIME
from services.payments.service_layer.checkout import Checkout
from services.payments.service_layer.payments import PaymentsService
from services.payments.service_layer.providers import Providers
from services.runtime.context import Principal
from services.runtime.errors import FailedPrecondition
from services.runtime.idempotency import Keyed
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
from tests.integration.payments.support import Agency, Payments, assert_ledger_consistent


@pytest.fixture(autouse=True)
def ledger_balances(payments: Payments) -> Iterator[None]:
    yield
    assert_ledger_consistent(payments.sessions)


def authorised(payments: Payments, **fields: Any) -> tuple[Agency, pb.Payment, str]:
    """A test-mode payment whose card is authorised, waiting for the citizen."""
    agency = Agency(payments)
    payment = agency.create(**fields)
    agency.pay(payment, confirm=False)
    with payments.sessions() as session:
        reference = session.scalar(
            sa.select(t.payments.c.provider_ref).where(t.payments.c.id == payment.id)
        )
    assert reference
    return agency, payment, str(reference)


def test_a_capture_done_then_swept_before_it_is_recorded_ends_success(payments: Payments) -> None:
    agency, payment, reference = authorised(payments)
    stop, providers = stopping(payments, "capture", reference)
    confirming = Background(
        lambda: Checkout(payments.app.uow, providers, clock=payments.clock).confirm(payment.id)
    )
    assert stop.reached.wait(WAIT)  # the money is captured; the confirmation has not recorded it
    # The page expires meanwhile and another replica's sweeper runs.
    sweeper(payments, payments.app.providers, later(payments, PAGE_LIFETIME)).run_once()
    stop.go_on.set()
    confirming.result()
    after = agency.get(payment.id)
    assert (after.state, after.captured_amount) == (pb.PAYMENT_STATE_SUCCESS, payment.amount)
    assert charge_status(payments, reference) == "captured"
    assert ledger_lines(payments, payment.id) == 2


def test_a_page_released_by_the_sweeper_cannot_then_be_confirmed(payments: Payments) -> None:
    agency, payment, reference = authorised(payments)
    stop, providers = stopping(payments, "cancel", reference)
    # The sweeper's clock says the page has expired; it releases the hold and stops.
    sweeping = Background(
        lambda: sweeper(payments, providers, later(payments, PAGE_LIFETIME)).run_once()
    )
    assert stop.reached.wait(WAIT)
    # The citizen's replica still shows the page open: the confirmation is refused.
    with pytest.raises(FailedPrecondition):
        payments.app.checkout.confirm(payment.id)
    stop.go_on.set()
    sweeping.result()
    after = agency.get(payment.id)
    assert (after.state, after.failure_code) == (
        pb.PAYMENT_STATE_FAILED,
        pb.FAILURE_CODE_PAGE_EXPIRED,
    )
    assert charge_status(payments, reference) == "cancelled"
    assert ledger_lines(payments, payment.id) == 0


def test_an_agency_capture_racing_the_capture_window_sweeper_ends_success(
    payments: Payments,
) -> None:
    agency, payment, reference = authorised(payments, delayed_capture=True)
    payments.app.checkout.confirm(payment.id)
    assert agency.get(payment.id).state == pb.PAYMENT_STATE_CAPTURABLE
    stop, providers = stopping(payments, "capture", reference)
    service = PaymentsService(
        payments.app.uow,
        providers,
        max_amount=payments.app.payments.max_amount,
        clock=payments.clock,
    )
    caller = Principal(agency.client_id, "test", frozenset(), "token", 0)
    capturing = Background(
        lambda: service.capture(
            caller, payment.id, Keyed(agency.client_id, "capture-race", "fingerprint")
        )
    )
    assert stop.reached.wait(WAIT)
    window = CAPTURE_WINDOW + timedelta(minutes=1)
    sweeper(payments, payments.app.providers, later(payments, window)).run_once()
    stop.go_on.set()
    capturing.result()
    after = agency.get(payment.id)
    assert (after.state, after.captured_amount) == (pb.PAYMENT_STATE_SUCCESS, payment.amount)
    assert charge_status(payments, reference) == "captured"
    assert ledger_lines(payments, payment.id) == 2


def test_an_unrecorded_confirmation_is_finished_by_the_sweeper(payments: Payments) -> None:
    """The confirming process stopped after its claim: the capture still happens once."""
    agency, payment, reference = authorised(payments)

    class Down(StopAfter):
        def capture(self, *, reference: str, amount: int, idempotency_key: str) -> None:
            raise RuntimeError("the process stopped here")

    down = Providers(Down(payments.app.providers.named("sandbox"), "", ""))
    with pytest.raises(RuntimeError):
        Checkout(payments.app.uow, down, clock=payments.clock).confirm(payment.id)
    assert agency.get(payment.id).state == pb.PAYMENT_STATE_SUBMITTED
    sweeper(payments, payments.app.providers, later(payments, PAGE_LIFETIME)).run_once()
    after = agency.get(payment.id)
    assert (after.state, after.captured_amount) == (pb.PAYMENT_STATE_SUCCESS, payment.amount)
    assert charge_status(payments, reference) == "captured"
    assert ledger_lines(payments, payment.id) == 2
