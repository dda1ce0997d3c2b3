"""A payment's moves through the state table, with the exact refusal an agency
reads, and the times that bound its page and its hold."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from services.payments.domain.payments import (
    FAILURES_OF,
    TRANSITIONS,
    Failure,
    Payment,
    State,
    can_move,
)
from services.runtime.errors import FailedPrecondition
from tests.support.payments import a_payment

NOW = datetime(2030, 1, 1, 12, tzinfo=UTC)
LATER = NOW + timedelta(minutes=5)


def payment(state: State = State.CREATED, **changes: object) -> Payment:
    fields: dict[str, object] = {"id": "pay_9", "amount": 1200, "created_at": NOW}
    return a_payment(**(fields | {"updated_at": NOW, "state": state} | changes))


@pytest.mark.parametrize("current", list(State))
@pytest.mark.parametrize("target", list(State))
def test_can_move_is_the_table(current: State, target: State) -> None:
    assert can_move(current, target) is (target in TRANSITIONS[current])


@pytest.mark.parametrize(
    ("state", "finished"),
    [
        (State.CREATED, False),
        (State.STARTED, False),
        (State.SUBMITTED, False),
        (State.CAPTURABLE, False),
        (State.SUCCESS, True),
        (State.FAILED, True),
        (State.CANCELLED, True),
        (State.ERROR, True),
    ],
)
def test_finished_states(state: State, finished: bool) -> None:
    assert state.finished is finished
    assert payment(state).finished is finished


def test_a_forbidden_move_names_the_payment_and_both_states() -> None:
    with pytest.raises(FailedPrecondition) as caught:
        payment(State.CREATED).moved(State.SUCCESS, LATER)
    assert caught.value.message == "payment pay_9 is created and cannot become success"
    with pytest.raises(FailedPrecondition) as again:
        payment(State.SUCCESS).moved(State.CANCELLED, LATER, Failure.CANCELLED_BY_AGENCY)
    assert again.value.message == "payment pay_9 is success and cannot become cancelled"


@pytest.mark.parametrize(
    ("source", "target", "failure"),
    [
        (State.SUBMITTED, State.FAILED, None),
        (State.SUBMITTED, State.CANCELLED, None),
        (State.SUBMITTED, State.ERROR, None),
        (State.SUBMITTED, State.FAILED, Failure.CANCELLED_BY_AGENCY),
        (State.SUBMITTED, State.CANCELLED, Failure.DECLINED),
        (State.SUBMITTED, State.ERROR, Failure.DECLINED),
        (State.SUBMITTED, State.SUCCESS, Failure.DECLINED),
        (State.SUBMITTED, State.CAPTURABLE, Failure.PROVIDER_ERROR),
        (State.CREATED, State.STARTED, Failure.PAGE_EXPIRED),
    ],
)
def test_a_failure_that_does_not_fit_the_target_is_a_bug(
    source: State, target: State, failure: Failure | None
) -> None:
    words = f"failure {failure} does not fit state {target}"
    with pytest.raises(ValueError, match=f"^{re.escape(words)}$"):
        payment(source).moved(target, LATER, failure)


@pytest.mark.parametrize(
    ("target", "failure"),
    [(target, failure) for target, failures in FAILURES_OF.items() for failure in failures],
)
def test_every_failure_fits_its_own_state(target: State, failure: Failure) -> None:
    source = State.CAPTURABLE if failure is Failure.CAPTURE_WINDOW_EXPIRED else State.SUBMITTED
    moved = payment(source).moved(target, LATER, failure)
    assert (moved.state, moved.failure, moved.updated_at) == (target, failure, LATER)
    assert (moved.captured_amount, moved.captured_at) == (0, None)


def test_a_move_keeps_every_other_field() -> None:
    before = payment(State.STARTED, provider_ref="ch_1", email="a@b.c")
    moved = before.moved(State.SUBMITTED, LATER)
    assert moved == replace(before, state=State.SUBMITTED, updated_at=LATER)
    assert before.state is State.STARTED


@pytest.mark.parametrize("source", [State.SUBMITTED, State.CAPTURABLE])
def test_success_captures_the_whole_amount(source: State) -> None:
    done = payment(source, refunded_amount=0).moved(State.SUCCESS, LATER)
    assert (done.state, done.failure) == (State.SUCCESS, None)
    assert (done.captured_amount, done.captured_at, done.updated_at) == (1200, LATER, LATER)


def test_a_move_to_capturable_captures_nothing() -> None:
    held = payment(State.SUBMITTED).moved(State.CAPTURABLE, LATER)
    assert (held.captured_amount, held.captured_at) == (0, None)


def test_refundable_is_captured_less_refunded() -> None:
    assert payment(State.SUCCESS, captured_amount=1200, refunded_amount=450).refundable_amount == (
        750
    )


def test_the_page_expires_90_minutes_after_creation() -> None:
    assert payment().page_expires_at() == NOW + timedelta(minutes=90)


@pytest.mark.parametrize(
    ("state", "open_"),
    [(s, s in (State.CREATED, State.STARTED, State.SUBMITTED)) for s in State],
)
def test_the_page_is_open_only_before_an_authorisation(state: State, open_: bool) -> None:
    assert payment(state).page_open(NOW) is open_
    assert payment(state).page_open(NOW + timedelta(minutes=89, seconds=59)) is open_


@pytest.mark.parametrize("state", [State.CREATED, State.STARTED, State.SUBMITTED])
def test_the_page_closes_at_90_minutes(state: State) -> None:
    assert payment(state).page_open(NOW + timedelta(minutes=90)) is False
    assert payment(state).page_open(NOW + timedelta(minutes=90, microseconds=1)) is False


def test_the_capture_deadline_is_120_hours_after_authorisation() -> None:
    assert payment(State.CAPTURABLE).capture_deadline() is None
    held = payment(State.CAPTURABLE, authorised_at=NOW + timedelta(minutes=3))
    assert held.capture_deadline() == NOW + timedelta(hours=120, minutes=3)
