"""Events agencies can subscribe to, and the webhook body."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from services.payments.domain.payments import Failure, Payment, State
from services.payments.domain.refunds import Refund, RefundState

CREATED = "payment.created"
SUCCEEDED = "payment.succeeded"
FAILED = "payment.failed"
CANCELLED = "payment.cancelled"
CAPTURED = "payment.captured"
REFUNDED = "payment.refunded"
WEBHOOK_EVENTS = (CREATED, SUCCEEDED, FAILED, CANCELLED, CAPTURED, REFUNDED)
# Sent only when the agency asks (SendTestWebhookEvent), whatever the
# subscription's event types: never subscribed to, never about a payment.
TEST = "webhook.test"

# An authorisation that landed after the payment stopped taking it (page expired,
# cancelled), and what became of its hold: released, or refused by the provider.
AUTHORISED_LATE = "payment.authorised_late"
LATE_HOLD_RELEASED = "payment.authorisation_released"
LATE_HOLD_REFUSED = "payment.authorisation_release_refused"

# Event recorded for each state a payment enters (the payment's own history).
STATE_EVENTS = {
    State.CREATED: CREATED,
    State.STARTED: "payment.started",
    State.SUBMITTED: "payment.submitted",
    State.CAPTURABLE: "payment.capturable",
    State.SUCCESS: SUCCEEDED,
    State.FAILED: FAILED,
    State.CANCELLED: CANCELLED,
    State.ERROR: "payment.error",
}


def webhook_event(
    payment: Payment, event_type: str, now: datetime, refund: Refund | None = None
) -> tuple[str, dict[str, Any]]:
    """A new event's id and the webhook body that reports it."""
    event_id = "evt_" + uuid.uuid4().hex
    body: dict[str, Any] = {
        "id": event_id,
        "type": event_type,
        "created": now.isoformat(),
        "payment": payment_json(payment),
    }
    if refund is not None:
        body["refund"] = refund_json(refund)
    return event_id, body


def test_event(subscription_id: str, now: datetime) -> tuple[str, dict[str, Any]]:
    """A test event's id and body: signed and sent like any other event."""
    event_id = "evt_" + uuid.uuid4().hex
    body: dict[str, Any] = {
        "id": event_id,
        "type": TEST,
        "created": now.isoformat(),
        "subscription_id": subscription_id,
    }
    return event_id, body


def encode_body(body: dict[str, Any]) -> bytes:
    """A delivery's bytes: compact JSON with sorted keys (as the outbox stores them)."""
    return json.dumps(body, separators=(",", ":"), sort_keys=True).encode()


def payment_json(p: Payment) -> dict[str, Any]:
    return {
        "id": p.id,
        "amount": p.amount,
        "currency": p.currency,
        "reference": p.reference,
        "description": p.description,
        "state": state_name(p.state),
        "finished": p.finished,
        "failure_code": failure_name(p.failure),
        "captured_amount": p.captured_amount,
        "refundable_amount": p.refundable_amount,
        "metadata": dict(p.metadata),
        "created": p.created_at.isoformat(),
    }


def refund_json(r: Refund) -> dict[str, Any]:
    return {
        "id": r.id,
        "payment_id": r.payment_id,
        "amount": r.amount,
        "currency": r.currency,
        "state": refund_state_name(r.state),
    }


# States and codes in a webhook are spelled as the JSON API spells them: the
# protobuf enum value names (PAYMENT_STATE_SUCCESS), so an agency compares one
# spelling whether it read the payment over gRPC, JSON or a webhook.


def state_name(state: State) -> str:
    """``State.SUCCESS`` -> ``"PAYMENT_STATE_SUCCESS"`` (``PaymentState`` in the proto)."""
    return "PAYMENT_STATE_" + state.name


def failure_name(failure: Failure | None) -> str | None:
    """``Failure.DECLINED`` -> ``"FAILURE_CODE_DECLINED"``; None while nothing failed."""
    return None if failure is None else "FAILURE_CODE_" + failure.name


def refund_state_name(state: RefundState) -> str:
    """``RefundState.SUCCESS`` -> ``"REFUND_STATE_SUCCESS"``."""
    return "REFUND_STATE_" + state.name
