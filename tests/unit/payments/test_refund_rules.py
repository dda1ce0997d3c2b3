"""Refund rules: what is left to refund, and the exact refusal an agency reads
(message and google.rpc.ErrorInfo) when a refund may not be made."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from services.payments.domain.payments import Payment, State
from services.payments.domain.refunds import (
    Refund,
    RefundState,
    available,
    can_move,
    check_refund,
)
from services.runtime.errors import (
    ErrorReason,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
)
from tests.support.payments import a_payment

NOW = datetime(2030, 1, 1, tzinfo=UTC)


def paid(captured: int = 1000, refunded: int = 0, currency: str = "EUR") -> Payment:
    return a_payment(
        id="pay_7",
        tenant="a",
        amount=captured,
        currency=currency,
        state=State.SUCCESS,
        created_at=NOW,
        updated_at=NOW,
        captured_amount=captured,
        refunded_amount=refunded,
    )


def refund(amount: int, state: RefundState) -> Refund:
    return Refund("r", "a", "pay_7", amount, "EUR", state, NOW, NOW)


@pytest.mark.parametrize(
    ("states", "left"),
    [
        ((), 1000),
        ((RefundState.SUBMITTED,), 900),
        ((RefundState.SUCCESS,), 900),
        ((RefundState.FAILED,), 1000),
        ((RefundState.SUCCESS, RefundState.SUBMITTED, RefundState.FAILED), 800),
    ],
)
def test_available_is_captured_less_refunds_that_have_not_failed(
    states: tuple[RefundState, ...], left: int
) -> None:
    assert available(1000, [refund(100, s) for s in states]) == left


@pytest.mark.parametrize("amount", [0, -1])
def test_a_refund_must_be_positive(amount: int) -> None:
    with pytest.raises(InvalidArgument) as caught:
        check_refund(paid(), amount, None)
    assert caught.value.violations == (
        FieldViolation("amount", "must be a positive number of minor units"),
    )


@pytest.mark.parametrize(
    "state",
    [s for s in State if s is not State.SUCCESS],
)
def test_only_a_successful_payment_can_be_refunded(state: State) -> None:
    with pytest.raises(FailedPrecondition) as caught:
        check_refund(replace(paid(), state=state), 1, None)
    assert caught.value.message == (
        f"payment pay_7 is {state.value}; only successful payments can be refunded"
    )
    assert caught.value.reason is None


def test_the_whole_amount_left_may_be_refunded() -> None:
    check_refund(paid(1000, 300), 700, None)
    check_refund(paid(1000, 300), 700, 700)
    check_refund(paid(1000, 300), 1, 700)


def test_a_refund_over_the_amount_left_names_both_figures() -> None:
    with pytest.raises(FailedPrecondition) as caught:
        check_refund(paid(1000, 300), 701, None)
    assert caught.value.message == (
        "refund of 701 exceeds the available amount 700; nothing was refunded"
    )
    assert caught.value.reason == ErrorReason(
        "REFUND_EXCEEDS_AVAILABLE",
        "payments.gaap",
        {"available_amount": "700", "currency": "EUR", "requested_amount": "701"},
    )


def test_a_stale_view_of_the_amount_left_is_refused_before_the_amount() -> None:
    with pytest.raises(FailedPrecondition) as caught:
        check_refund(paid(1000, 300), 5000, 1000)
    assert caught.value.message == (
        "expected_available_amount is 1000 but 700 is available; nothing was refunded"
    )
    assert caught.value.reason == ErrorReason(
        "AVAILABLE_AMOUNT_CHANGED",
        "payments.gaap",
        {"available_amount": "700", "currency": "EUR", "expected_available_amount": "1000"},
    )


def test_an_expected_amount_of_zero_is_checked_too() -> None:
    with pytest.raises(FailedPrecondition) as caught:
        check_refund(paid(1000, 300), 1, 0)
    assert caught.value.reason is not None
    assert caught.value.reason.reason == "AVAILABLE_AMOUNT_CHANGED"


@pytest.mark.parametrize(
    ("current", "target", "allowed"),
    [
        (RefundState.SUBMITTED, RefundState.SUCCESS, True),
        (RefundState.SUBMITTED, RefundState.FAILED, True),
        (RefundState.SUBMITTED, RefundState.SUBMITTED, False),
        (RefundState.SUCCESS, RefundState.FAILED, False),
        (RefundState.SUCCESS, RefundState.SUBMITTED, False),
        (RefundState.FAILED, RefundState.SUCCESS, False),
        (RefundState.FAILED, RefundState.SUBMITTED, False),
    ],
)
def test_a_refund_moves_only_from_submitted_to_an_end(
    current: RefundState, target: RefundState, allowed: bool
) -> None:
    assert can_move(current, target) is allowed
