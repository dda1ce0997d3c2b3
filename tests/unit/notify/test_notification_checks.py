"""A notification's checks at their edges (schedule, reference, recipient), the
words each refusal gives, and the retry schedule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.notify.domain import notifications
from services.notify.domain.notifications import RetrySchedule
from services.notify.domain.recipients import SmsRules
from services.runtime.errors import FieldViolation

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
TICK = timedelta(microseconds=1)


@pytest.mark.parametrize(
    ("scheduled_for", "problem"),
    [
        (None, None),
        (NOW - timedelta(minutes=1), None),  # a client clock a minute behind
        (NOW - timedelta(minutes=1) - TICK, "must not be in the past"),
        (NOW + timedelta(days=7), None),
        (NOW + timedelta(days=7) + TICK, "at most 7 days ahead"),
    ],
)
def test_a_schedule_is_at_most_a_minute_behind_and_7_days_ahead(
    scheduled_for: datetime | None, problem: str | None
) -> None:
    expected = FieldViolation("send_at", problem) if problem else None
    assert notifications.due_time(scheduled_for, NOW, "send_at") == expected


@pytest.mark.parametrize(
    ("reference", "fine"),
    [("", True), ("r" * 200, True), ("r" * 201, False), ("a\nb", False), ("tab\there", False)],
)
def test_a_reference_is_at_most_200_printable_characters(reference: str, fine: bool) -> None:
    expected = None if fine else FieldViolation("reference", "at most 200 printable characters")
    assert notifications.reference_problem(reference) == expected
    named = None if fine else FieldViolation("rows[3].reference", expected.description)  # type: ignore[union-attr]
    assert notifications.reference_problem(reference, "rows[3].reference") == named


def test_a_refused_recipient_is_named_with_the_reason() -> None:
    assert notifications.recipient_problem("email", "no-at", SmsRules(), "rows[0].to") == (
        "",
        FieldViolation(
            "rows[0].to", "not a valid email address: An email address must have an @-sign."
        ),
    )
    assert notifications.recipient_problem("sms", "0791234567", SmsRules(), "phone") == (
        "",
        FieldViolation("phone", "not a valid phone number"),
    )
    assert notifications.recipient_problem("sms", "07700 900002", SmsRules(), "phone") == (
        "+447700900002",
        None,
    )


@pytest.mark.parametrize(
    ("attempts", "wait"),
    [(0, 10), (1, 10), (2, 30), (3, 60), (8, 1800), (9, 1800), (50, 1800)],
)
def test_retries_wait_longer_each_attempt(attempts: int, wait: int) -> None:
    schedule = RetrySchedule()
    assert schedule.next_attempt(attempts, NOW, NOW) == NOW + timedelta(seconds=wait)


def test_no_retry_past_the_period_since_the_notification_became_due() -> None:
    schedule = RetrySchedule(period=timedelta(hours=1))
    due = NOW - timedelta(hours=1) + timedelta(seconds=10)
    assert schedule.next_attempt(1, due, NOW) == NOW + timedelta(seconds=10)
    assert schedule.next_attempt(1, due - TICK, NOW) is None
    assert RetrySchedule().next_attempt(2, NOW - timedelta(hours=4), NOW) is None
