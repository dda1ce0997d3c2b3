"""Refund rules: how much is left to refund and whether a refund may be made."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from services.payments.domain.payments import Payment, State
from services.runtime.errors import (
    ErrorReason,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
)

# google.rpc.ErrorInfo of a refused refund: a program reads the amount left from
# its metadata (minor units as text, with the currency) instead of the message.
ERROR_DOMAIN = "payments.gaap"
AVAILABLE_AMOUNT_CHANGED = "AVAILABLE_AMOUNT_CHANGED"
REFUND_EXCEEDS_AVAILABLE = "REFUND_EXCEEDS_AVAILABLE"


class RefundState(enum.StrEnum):
    SUBMITTED = "submitted"
    SUCCESS = "success"
    FAILED = "failed"


# Submitted refunds count against the available amount until they fail.
COUNTS_AGAINST_AVAILABLE = frozenset({RefundState.SUBMITTED, RefundState.SUCCESS})
REFUND_TRANSITIONS = {
    RefundState.SUBMITTED: frozenset({RefundState.SUCCESS, RefundState.FAILED}),
    RefundState.SUCCESS: frozenset(),
    RefundState.FAILED: frozenset(),
}


@dataclass(frozen=True)
class Refund:
    id: str
    tenant: str
    payment_id: str
    amount: int
    currency: str
    state: RefundState
    created_at: datetime
    updated_at: datetime
    provider_ref: str = ""


def available(captured: int, refunds: list[Refund]) -> int:
    """Captured amount minus submitted and successful refunds."""
    return captured - sum(r.amount for r in refunds if r.state in COUNTS_AGAINST_AVAILABLE)


def check_refund(payment: Payment, amount: int, expected_available: int | None) -> None:
    """Refuse a refund that is malformed, too large, or based on a stale view."""
    if amount <= 0:
        raise InvalidArgument.from_violations(
            [FieldViolation("amount", "must be a positive number of minor units")]
        )
    if payment.state is not State.SUCCESS:
        raise FailedPrecondition(
            f"payment {payment.id} is {payment.state.value}; only successful payments "
            "can be refunded"
        )
    left = payment.refundable_amount
    figures = {"available_amount": str(left), "currency": payment.currency}
    if expected_available is not None and expected_available != left:
        raise FailedPrecondition(
            f"expected_available_amount is {expected_available} but {left} is available; "
            "nothing was refunded",
            ErrorReason(
                AVAILABLE_AMOUNT_CHANGED,
                ERROR_DOMAIN,
                {**figures, "expected_available_amount": str(expected_available)},
            ),
        )
    if amount > left:
        raise FailedPrecondition(
            f"refund of {amount} exceeds the available amount {left}; nothing was refunded",
            ErrorReason(
                REFUND_EXCEEDS_AVAILABLE, ERROR_DOMAIN, {**figures, "requested_amount": str(amount)}
            ),
        )


def can_move(current: RefundState, target: RefundState) -> bool:
    return target in REFUND_TRANSITIONS[current]
