"""Read models the agency's queries return: which payments to list, a payment's
history and the ledger's entries as the agency sees them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from services.payments.domain.payments import State


@dataclass(frozen=True)
class PaymentFilter:
    reference: str = ""
    state: State | None = None
    email: str = ""
    created_after: datetime | None = None
    created_before: datetime | None = None
    card_last_four: str = ""  # four digits, or "" for any card


@dataclass(frozen=True)
class EventRecord:
    """One entry of a payment's history; ``seq`` orders them (and pages them)."""

    payment_id: str
    type: str
    state: State
    at: datetime
    refund_id: str | None
    seq: int


@dataclass(frozen=True)
class Movement:
    """One ledger entry as the agency sees it: ``amount`` is what it owes them."""

    line_id: int
    kind: str
    payment_id: str
    refund_id: str | None
    amount: int
    at: datetime


@dataclass(frozen=True)
class DayStats:
    """Money moved on one UTC day in one currency, as the agency sees it."""

    day: date
    currency: str
    captured_count: int
    captured_amount: int
    refunded_count: int
    refunded_amount: int
