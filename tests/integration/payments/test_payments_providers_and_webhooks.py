"""Stripe through the real ``stripe`` library against a local Stripe-format
server, signed ``/webhooks/stripe`` events, and signed agency webhooks checked
by an independent verifier."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator, Mapping
from datetime import timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from gaap.payments.v1 import payments_pb2 as pb

from services.payments.adapters import tables as t
from tests.integration.payments.fake_stripe import FakeStripe
from tests.integration.payments.support import (
    MAGIC,
    Agency,
    Payments,
    WebhookReceiver,
    assert_ledger_consistent,
    payments_service,
)
from tests.support.platform import Platform

SECRETS = ("whsec_old_secret_value", "whsec_new_secret_value")


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


def stripe_signature(secret: str, payload: bytes, timestamp: int | None = None) -> str:
    """As Stripe computes it: t=<ts>,v1=HMAC-SHA256(secret, "<ts>.<payload>")."""
    ts = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{ts}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={ts},v1={mac}"


def send_event(
    live: Payments, event: Mapping[str, Any], secret: str = SECRETS[1], **kw: int
) -> httpx.Response:
    payload = json.dumps(event).encode()
    return httpx.post(
        live.running.http_url + "/webhooks/stripe",
        content=payload,
        headers={"Stripe-Signature": stripe_signature(secret, payload, kw.get("timestamp"))},
    )


def test_live_payment_goes_through_stripe_with_derived_keys(
    live: Payments, stripe_server: FakeStripe
) -> None:
    agency = Agency(live, mode="live")
    payment = agency.create(amount=4200)
    assert payment.provider == "stripe"
    agency.pay(payment)
    after = agency.get(payment.id)
    assert after.state == pb.PAYMENT_STATE_SUCCESS
    calls = [c for c in stripe_server.calls if payment.id in c.idempotency_key]
    assert [(c.path.rsplit("/", 1)[-1], c.idempotency_key) for c in calls] == [
        ("payment_intents", f"gaap-{payment.id}-authorise"),
        ("capture", f"gaap-{payment.id}-capture"),
    ]
    assert calls[0].params["capture_method"] == "manual"
    assert calls[0].params["amount"] == "4200"
    assert calls[0].params["currency"] == "gbp"
    assert calls[0].authorization == "Bearer sk_test_local"
    # The card number went to Stripe and is stored nowhere.
    with live.sessions() as session:
        row = session.execute(sa.select(t.payments).where(t.payments.c.id == payment.id)).one()
    assert "4242424242424242" not in json.dumps([str(v) for v in row])
    assert row.card_last_four == "4242"


def test_test_mode_agency_never_reaches_stripe(live: Payments, stripe_server: FakeStripe) -> None:
    before = len(stripe_server.calls)
    payment = Agency(live, mode="test").paid()
    assert payment.provider == "sandbox"
    assert payment.state == pb.PAYMENT_STATE_SUCCESS
    assert len(stripe_server.calls) == before


@pytest.mark.parametrize(
    ("card", "failure"),
    [
        (MAGIC["declined"], pb.FAILURE_CODE_DECLINED),
        (MAGIC["expired"], pb.FAILURE_CODE_CARD_EXPIRED),
    ],
)
def test_stripe_card_errors_fail_the_payment(live: Payments, card: str, failure: int) -> None:
    agency = Agency(live, mode="live")
    payment = agency.create()
    agency.pay(payment, card)
    after = agency.get(payment.id)
    assert (after.state, after.failure_code) == (pb.PAYMENT_STATE_FAILED, failure)


def test_pending_refund_settled_by_a_signed_stripe_webhook(
    live: Payments, stripe_server: FakeStripe
) -> None:
    agency = Agency(live, mode="live")
    payment = agency.paid(amount=1000)
    stripe_server.refund_status = "pending"
    try:
        refund = agency.stub.CreateRefund(
            pb.CreateRefundRequest(payment_id=payment.id, amount=400, idempotency_key="r1"),
            metadata=agency.metadata,
        )
    finally:
        stripe_server.refund_status = "succeeded"
    assert refund.state == pb.REFUND_STATE_SUBMITTED
    assert agency.get(payment.id).refundable_amount == 600  # reserved while pending
    refund_call = stripe_server.calls[-1]
    assert refund_call.idempotency_key == f"gaap-{refund.id}-refund"
    event = {
        "id": "evt_refund_1",
        "object": "event",
        "type": "refund.updated",
        "data": {
            "object": {
                "id": f"re_{len(stripe_server.calls)}",
                "object": "refund",
                "status": "succeeded",
                "amount": 400,
                "currency": "gbp",
                "metadata": {"gaap_refund_id": refund.id},
            }
        },
    }
    assert send_event(live, event, SECRETS[0]).status_code == 200  # the old secret still works
    assert send_event(live, event).status_code == 200  # redelivered: acknowledged, no effect
    settled = agency.stub.GetRefund(
        pb.GetRefundRequest(refund_id=refund.id), metadata=agency.metadata
    )
    assert settled.state == pb.REFUND_STATE_SUCCESS
    with live.sessions() as session:
        lines = session.scalar(
            sa.select(sa.func.count()).where(t.ledger_lines.c.refund_id == refund.id)
        )
    assert lines == 2


def test_stripe_webhook_signature_is_enforced(live: Payments) -> None:
    event = {"id": "evt_x", "type": "payment_intent.succeeded", "data": {"object": {"id": "pi_0"}}}
    assert send_event(live, event, "whsec_wrong").status_code == 400
    assert send_event(live, event, timestamp=int(time.time()) - 301).status_code == 400
    unsigned = httpx.post(live.running.http_url + "/webhooks/stripe", content=b"{}")
    assert unsigned.status_code == 400


def test_out_of_order_stripe_events_never_move_backwards(live: Payments) -> None:
    agency = Agency(live, mode="live")
    payment = agency.create(delayed_capture=True)
    agency.pay(payment)
    with live.sessions() as session:
        intent = session.scalar(
            sa.select(t.payments.c.provider_ref).where(t.payments.c.id == payment.id)
        )
    succeeded = {
        "id": "evt_s_" + payment.id,
        "type": "payment_intent.succeeded",
        "data": {
            "object": {
                "id": intent,
                "object": "payment_intent",
                "status": "succeeded",
                "amount_received": payment.amount,
                "currency": "gbp",
            }
        },
    }
    late = {
        "id": "evt_a_" + payment.id,
        "type": "payment_intent.amount_capturable_updated",
        "data": {
            "object": {"id": intent, "object": "payment_intent", "status": "requires_capture"}
        },
    }
    canceled = {
        "id": "evt_c_" + payment.id,
        "type": "payment_intent.canceled",
        "data": {"object": {"id": intent, "object": "payment_intent", "status": "canceled"}},
    }
    for event in (succeeded, late, canceled):
        assert send_event(live, event).status_code == 200
    after = agency.get(payment.id)
    assert after.state == pb.PAYMENT_STATE_SUCCESS
    assert after.captured_amount == payment.amount


def independent_verify(secret: str, header: str, body: bytes, now: float) -> bool:
    """A receiver's check, written from the documented format only."""
    fields = dict(part.split("=", 1) for part in header.split(","))
    timestamp = int(fields["t"])
    expected = hmac.new(
        secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256
    ).hexdigest()
    return abs(now - timestamp) <= 300 and hmac.compare_digest(expected, fields["v1"])


def test_agency_webhooks_are_signed_retried_and_recorded(live: Payments) -> None:
    receiver = WebhookReceiver()
    try:
        agency = Agency(live)
        created = agency.stub.CreateWebhookSubscription(
            pb.CreateWebhookSubscriptionRequest(url=receiver.url, idempotency_key="s1"),
            metadata=agency.metadata,
        )
        secret = created.signing_secret
        assert secret.startswith("whsec_")
        listed = agency.stub.ListWebhookSubscriptions(
            pb.ListWebhookSubscriptionsRequest(), metadata=agency.metadata
        )
        assert [s.id for s in listed.subscriptions] == [created.subscription.id]
        receiver.status = 500
        payment = agency.paid()
        agency.stub.CreateRefund(
            pb.CreateRefundRequest(payment_id=payment.id, amount=100, idempotency_key="r"),
            metadata=agency.metadata,
        )
        live.app.outbox.deliver_due()
        assert len(receiver.received) == 4  # created, captured, succeeded, refunded
        receiver.status = 200
        live.clock.advance(timedelta(seconds=59))
        assert live.app.outbox.deliver_due() == 0  # not due before one minute
        live.clock.advance(timedelta(seconds=2))
        assert live.app.outbox.deliver_due() == 4
        bodies = [json.loads(r.body) for r in receiver.received[4:]]
        assert sorted(b["type"] for b in bodies) == sorted(
            ["payment.created", "payment.captured", "payment.succeeded", "payment.refunded"]
        )
        for received in receiver.received:
            header = received.headers["gaap-signature"]
            assert independent_verify(secret, header, received.body, time.time())
            assert not independent_verify("whsec_other", header, received.body, time.time())
            assert not independent_verify(secret, header, received.body, time.time() + 301)
        assert all(b["payment"]["id"] == payment.id for b in bodies)
        deliveries = agency.stub.ListWebhookDeliveries(
            pb.ListWebhookDeliveriesRequest(subscription_id=created.subscription.id),
            metadata=agency.metadata,
        )
        assert len(deliveries.deliveries) == 4
        for delivery in deliveries.deliveries:
            assert delivery.state == pb.WEBHOOK_DELIVERY_STATE_SUCCEEDED
            assert [a.status_code for a in delivery.attempts] == [500, 200]
        disabled = agency.stub.DisableWebhookSubscription(
            pb.DisableWebhookSubscriptionRequest(
                subscription_id=created.subscription.id, idempotency_key="d"
            ),
            metadata=agency.metadata,
        )
        assert disabled.disabled
        agency.create()
        assert live.app.outbox.deliver_due() == 0
        other = Agency(live)
        with pytest.raises(Exception, match="NOT_FOUND"):
            other.stub.ListWebhookDeliveries(
                pb.ListWebhookDeliveriesRequest(subscription_id=created.subscription.id),
                metadata=other.metadata,
            )
    finally:
        receiver.close()
