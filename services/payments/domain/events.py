"""Events agencies can subscribe to, and the webhook body."""

from __future__ import annotations

from services.payments.domain.payments import State

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
