"""Stripe's reports are checked against the payment (SQLite and PostgreSQL): an
event or an API answer naming another amount or currency is a provider error,
never money recorded as moved, and it is counted for the alert."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from gaap.payments.v1 import payments_pb2 as pb
from prometheus_client import REGISTRY

from services.payments.adapters import tables as t
from tests.integration.payments.fake_stripe import FakeStripe
from tests.integration.payments.support import (
    Agency,
    Payments,
    assert_ledger_consistent,
    payments_service,
)
from tests.integration.payments.test_payments_providers_and_webhooks import SECRETS, send_event
from tests.support.platform import Platform


@pytest.fixture(scope="module")
def live(platform: Platform, database_url: str, stripe_server: FakeStripe) -> Iterator[Payments]:
    with payments_service(
        platform,
        database_url,
        stripe_api_key="sk_test_local",
        stripe_api_base=stripe_server.url,
        stripe_webhook_secrets=",".join(SECRETS),
    ) as running:
        yield running


@pytest.fixture(autouse=True)
def ledger_balances(live: Payments) -> Iterator[None]:
    yield
    assert_ledger_consistent(live.sessions)


def mismatches(field: str) -> float:
    labels = {"provider": "stripe", "field": field}
    return REGISTRY.get_sample_value("gaap_payments_provider_mismatch_total", labels) or 0.0


def intent_of(live: Payments, payment_id: str) -> str:
    with live.sessions() as session:
        found = session.scalar(
            sa.select(t.payments.c.provider_ref).where(t.payments.c.id == payment_id)
        )
    return str(found)


def ledger_lines(live: Payments, payment_id: str) -> int:
    with live.sessions() as session:
        count = session.scalar(
            sa.select(sa.func.count()).where(t.ledger_lines.c.payment_id == payment_id)
        )
    return int(count or 0)


def succeeded(intent: str, **fields: Any) -> dict[str, Any]:
    body = {"id": intent, "object": "payment_intent", "status": "succeeded", **fields}
    return {
        "id": "evt_" + uuid.uuid4().hex,
        "type": "payment_intent.succeeded",
        "data": {"object": body},
    }


@pytest.mark.parametrize(
    ("reported", "field"),
    [
        ({"amount_received": 1, "currency": "gbp"}, "amount"),
        ({"amount_received": 4200, "currency": "usd"}, "currency"),
        ({"currency": "gbp"}, "amount"),  # a report without an amount proves nothing
    ],
)
@pytest.mark.parametrize("delayed_capture", [False, True])
def test_a_succeeded_event_for_another_sum_is_a_provider_error(
    live: Payments, reported: dict[str, Any], field: str, delayed_capture: bool
) -> None:
    agency = Agency(live, mode="live")
    payment = agency.create(amount=4200, delayed_capture=delayed_capture)
    # Authorised and waiting for the citizen, or confirmed and held for the agency.
    agency.pay(payment, confirm=delayed_capture)
    before = mismatches(field)
    event = succeeded(intent_of(live, payment.id), **reported)
    assert send_event(live, event).status_code == 200
    after = agency.get(payment.id)
    assert (after.state, after.failure_code) == (
        pb.PAYMENT_STATE_ERROR,
        pb.FAILURE_CODE_PROVIDER_ERROR,
    )
    assert after.captured_amount == 0
    assert ledger_lines(live, payment.id) == 0
    assert mismatches(field) == before + 1


def test_a_matching_succeeded_event_still_completes_the_payment(live: Payments) -> None:
    agency = Agency(live, mode="live")
    payment = agency.create(amount=4200, delayed_capture=True)
    agency.pay(payment)
    event = succeeded(intent_of(live, payment.id), amount_received=4200, currency="gbp")
    assert send_event(live, event).status_code == 200
    after = agency.get(payment.id)
    assert (after.state, after.captured_amount) == (pb.PAYMENT_STATE_SUCCESS, 4200)
    assert ledger_lines(live, payment.id) == 2


def test_a_capture_answer_for_another_amount_is_a_provider_error(
    live: Payments, stripe_server: FakeStripe
) -> None:
    agency = Agency(live, mode="live")
    payment = agency.create(amount=4200)
    before = mismatches("amount")
    stripe_server.capture_shortfall = 200
    try:
        agency.pay(payment)
    finally:
        stripe_server.capture_shortfall = 0
    after = agency.get(payment.id)
    assert (after.state, after.failure_code) == (
        pb.PAYMENT_STATE_ERROR,
        pb.FAILURE_CODE_PROVIDER_ERROR,
    )
    assert ledger_lines(live, payment.id) == 0
    assert mismatches("amount") == before + 1


def test_a_refund_event_for_another_amount_leaves_the_refund_pending(
    live: Payments, stripe_server: FakeStripe
) -> None:
    agency = Agency(live, mode="live")
    payment = agency.paid(amount=1000)
    stripe_server.refund_status = "pending"
    try:
        refund = agency.stub.CreateRefund(
            pb.CreateRefundRequest(payment_id=payment.id, amount=400, idempotency_key="r"),
            metadata=agency.metadata,
        )
    finally:
        stripe_server.refund_status = "succeeded"
    before = mismatches("amount")
    event = {
        "id": f"evt_refund_{refund.id}",
        "type": "refund.updated",
        "data": {
            "object": {
                "id": "re_other",
                "object": "refund",
                "status": "succeeded",
                "amount": 1000,
                "currency": "gbp",
                "metadata": {"gaap_refund_id": refund.id},
            }
        },
    }
    assert send_event(live, event).status_code == 200
    still = agency.stub.GetRefund(
        pb.GetRefundRequest(refund_id=refund.id), metadata=agency.metadata
    )
    assert still.state == pb.REFUND_STATE_SUBMITTED
    assert mismatches("amount") == before + 1
