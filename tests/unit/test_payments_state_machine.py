"""The payment state machine: one table, forward only, failures named."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.payments.domain.payments import (
    FAILURES_OF,
    FINISHED,
    RANK,
    TRANSITIONS,
    Failure,
    Payment,
    State,
)
from services.runtime.errors import FailedPrecondition
from tests.support.payments import a_payment

NOW = datetime(2030, 1, 1, 12, tzinfo=UTC)


def payment(state: State = State.CREATED, **changes: object) -> Payment:
    fields: dict[str, object] = {"id": "pay_1", "amount": 1000, "created_at": NOW}
    return a_payment(**(fields | {"updated_at": NOW, "state": state} | changes))


def test_the_table_covers_every_state_and_finished_states_are_final() -> None:
    assert set(TRANSITIONS) == set(State)
    for state in FINISHED:
        assert TRANSITIONS[state] == frozenset()
    assert {State.SUCCESS, State.FAILED, State.CANCELLED, State.ERROR} == FINISHED


def test_transitions_only_move_forward() -> None:
    for source, targets in TRANSITIONS.items():
        for target in targets:
            assert RANK[target] > RANK[source], (source, target)


def test_success_only_after_submission() -> None:
    sources = {s for s, targets in TRANSITIONS.items() if State.SUCCESS in targets}
    assert sources == {State.SUBMITTED, State.CAPTURABLE}


@pytest.mark.parametrize(
    ("source", "target", "failure"),
    [
        (State.CREATED, State.STARTED, None),
        (State.STARTED, State.SUBMITTED, None),
        (State.SUBMITTED, State.CAPTURABLE, None),
        (State.SUBMITTED, State.SUCCESS, None),
        (State.CAPTURABLE, State.SUCCESS, None),
        (State.SUBMITTED, State.FAILED, Failure.DECLINED),
        (State.CREATED, State.FAILED, Failure.PAGE_EXPIRED),
        (State.CAPTURABLE, State.CANCELLED, Failure.CAPTURE_WINDOW_EXPIRED),
        (State.SUBMITTED, State.ERROR, Failure.PROVIDER_ERROR),
    ],
)
def test_allowed_moves(source: State, target: State, failure: Failure | None) -> None:
    later = NOW + timedelta(minutes=1)
    moved = payment(source).moved(target, later, failure)
    assert (moved.state, moved.failure, moved.updated_at) == (target, failure, later)
    assert moved.finished == (target in FINISHED)


@pytest.mark.parametrize(
    ("source", "target"),
    [
        (State.CREATED, State.SUCCESS),
        (State.STARTED, State.CAPTURABLE),
        (State.SUCCESS, State.CANCELLED),
        (State.FAILED, State.STARTED),
        (State.CAPTURABLE, State.FAILED),
        (State.CANCELLED, State.SUCCESS),
    ],
)
def test_invalid_moves_are_refused_and_change_nothing(source: State, target: State) -> None:
    before = payment(source)
    failure = next(iter(FAILURES_OF.get(target, {None})))
    with pytest.raises(FailedPrecondition):
        before.moved(target, NOW, failure)
    assert before.state is source


def test_a_failure_code_must_fit_the_state() -> None:
    with pytest.raises(ValueError, match="does not fit"):
        payment(State.SUBMITTED).moved(State.FAILED, NOW, None)
    with pytest.raises(ValueError, match="does not fit"):
        payment(State.SUBMITTED).moved(State.FAILED, NOW, Failure.CANCELLED_BY_AGENCY)
    with pytest.raises(ValueError, match="does not fit"):
        payment(State.SUBMITTED).moved(State.SUCCESS, NOW, Failure.DECLINED)


def test_every_failure_belongs_to_exactly_one_state() -> None:
    owners = [s for f in Failure for s, fs in FAILURES_OF.items() if f in fs]
    assert len(owners) == len(Failure)


def test_success_records_the_capture() -> None:
    done = payment(State.SUBMITTED).moved(State.SUCCESS, NOW)
    assert (done.captured_amount, done.captured_at, done.refundable_amount) == (1000, NOW, 1000)


def test_page_open_for_90_minutes_and_capture_window_120_hours() -> None:
    p = payment(State.STARTED)
    assert p.page_open(NOW + timedelta(minutes=89, seconds=59))
    assert not p.page_open(NOW + timedelta(minutes=90))
    assert not payment(State.CAPTURABLE).page_open(NOW)
    held = payment(State.CAPTURABLE, authorised_at=NOW)
    assert held.capture_deadline() == NOW + timedelta(hours=120)
