"""Events agencies can subscribe to, and the webhook body."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from services.payments.domain.payments import Payment, State
from services.payments.domain.refunds import Refund

CREATED = "payment.created"
SUCCEEDED = "payment.succeeded"
FAILED = "payment.failed"
CANCELLED = "payment.cancelled"
CAPTURED = "payment.captured"
REFUNDED = "payment.refunded"
WEBHOOK_EVENTS = (CREATED, SUCCEEDED, FAILED, CANCELLED, CAPTURED, REFUNDED)

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
        "state": p.state.value,
        "finished": p.finished,
        "failure_code": p.failure.value if p.failure else None,
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
        "state": r.state.value,
    }
