"""Notifications: what is checked before one is stored, and its retry schedule."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from services.notify.domain import recipients, simulation
from services.notify.domain.recipients import RecipientError, SmsRules
from services.runtime.errors import FieldViolation

MAX_SCHEDULE_AHEAD = timedelta(days=7)
SCHEDULE_SKEW = timedelta(minutes=1)  # a client clock slightly behind is not an error
MAX_REFERENCE = 200
MAX_BULK_ROWS = 100_000


@dataclass(frozen=True)
class Notification:
    id: str
    tenant: str
    mode: str
    channel: str
    status: str
    template_id: str
    template_version: int
    recipient: str
    subject: str
    body: str
    reference: str
    language: str
    reply_to: str
    personalisation: dict[str, Any]
    created_at: datetime
    scheduled_for: datetime | None
    sent_at: datetime | None
    completed_at: datetime | None
    fragments: int
    bulk_send_id: str | None
    purged_at: datetime | None
    attempts: int = 0
    provider: str | None = None
    provider_message_id: str | None = None


def due_time(scheduled_for: datetime | None, now: datetime, field: str) -> FieldViolation | None:
    if scheduled_for is None:
        return None
    if scheduled_for < now - SCHEDULE_SKEW:
        return FieldViolation(field, "must not be in the past")
    if scheduled_for > now + MAX_SCHEDULE_AHEAD:
        return FieldViolation(field, "at most 7 days ahead")
    return None


def reference_problem(reference: str, field: str = "reference") -> FieldViolation | None:
    if len(reference) > MAX_REFERENCE or not reference.isprintable():
        return FieldViolation(field, f"at most {MAX_REFERENCE} printable characters")
    return None


def recipient(channel: str, raw: str, rules: SmsRules) -> str:
    """The normalised recipient; ``RecipientError`` if refused."""
    if channel == "email":
        return recipients.email_address(raw)
    simulated = simulation.simulated_number(raw)
    return simulated if simulated is not None else recipients.phone_number(raw, rules)


def recipient_problem(
    channel: str, raw: str, rules: SmsRules, field: str
) -> tuple[str, FieldViolation | None]:
    try:
        return recipient(channel, raw, rules), None
    except RecipientError as exc:
        return "", FieldViolation(field, str(exc))


@dataclass(frozen=True)
class RetrySchedule:
    """Waits between attempts after a retryable provider error, until ``period``
    has passed since the notification became due; then technical-failure."""

    period: timedelta = timedelta(hours=4)
    delays: tuple[timedelta, ...] = tuple(
        timedelta(seconds=s) for s in (10, 30, 60, 120, 300, 600, 1200, 1800)
    )

    def next_attempt(self, attempts: int, due_at: datetime, now: datetime) -> datetime | None:
        delay = self.delays[min(attempts, len(self.delays)) - 1] if attempts > 0 else self.delays[0]
        at = now + delay
        return at if at <= due_at + self.period else None
