"""A payment's life: its states, the one table of allowed transitions, and the
rules for a new payment's fields."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from services.payments.domain import money
from services.payments.domain.cards import CardSummary
from services.runtime import urls
from services.runtime.errors import FailedPrecondition, FieldViolation, InvalidArgument

PAGE_LIFETIME = timedelta(minutes=90)
CAPTURE_WINDOW = timedelta(hours=120)
LANGUAGES = ("en", "zh-Hans")
MAX_TEXT = 255
MAX_METADATA_KEYS = 15
MAX_METADATA_KEY = 30
MAX_METADATA_VALUE = 100
MAX_EMAIL = 254


class State(enum.StrEnum):
    CREATED = "created"
    STARTED = "started"
    SUBMITTED = "submitted"
    CAPTURABLE = "capturable"
    SUCCESS = "success"
    FAILED = "failed"
    CANCELLED = "cancelled"
    ERROR = "error"

    @property
    def finished(self) -> bool:
        return self in FINISHED


FINISHED = frozenset({State.SUCCESS, State.FAILED, State.CANCELLED, State.ERROR})


class Failure(enum.StrEnum):
    DECLINED = "declined"
    CARD_EXPIRED = "card_expired"
    PAGE_EXPIRED = "page_expired"
    CANCELLED_BY_CITIZEN = "cancelled_by_citizen"
    CANCELLED_BY_AGENCY = "cancelled_by_agency"
    CAPTURE_WINDOW_EXPIRED = "capture_window_expired"
    PROVIDER_ERROR = "provider_error"


# The state machine: every allowed move, and nothing else. A move to a failed
# state must name one of the failures listed for it.
TRANSITIONS: Mapping[State, frozenset[State]] = {
    State.CREATED: frozenset({State.STARTED, State.FAILED, State.CANCELLED}),
    State.STARTED: frozenset({State.SUBMITTED, State.FAILED, State.CANCELLED}),
    State.SUBMITTED: frozenset(
        {State.CAPTURABLE, State.SUCCESS, State.FAILED, State.CANCELLED, State.ERROR}
    ),
    State.CAPTURABLE: frozenset({State.SUCCESS, State.CANCELLED, State.ERROR}),
    State.SUCCESS: frozenset(),
    State.FAILED: frozenset(),
    State.CANCELLED: frozenset(),
    State.ERROR: frozenset(),
}
FAILURES_OF: Mapping[State, frozenset[Failure]] = {
    State.FAILED: frozenset(
        {
            Failure.DECLINED,
            Failure.CARD_EXPIRED,
            Failure.PAGE_EXPIRED,
            Failure.CANCELLED_BY_CITIZEN,
        }
    ),
    State.CANCELLED: frozenset({Failure.CANCELLED_BY_AGENCY, Failure.CAPTURE_WINDOW_EXPIRED}),
    State.ERROR: frozenset({Failure.PROVIDER_ERROR}),
}
# How far along each state is: provider events that arrive late never move a
# payment to an earlier rank.
RANK: Mapping[State, int] = {
    State.CREATED: 0,
    State.STARTED: 1,
    State.SUBMITTED: 2,
    State.CAPTURABLE: 3,
    State.SUCCESS: 4,
    State.FAILED: 4,
    State.CANCELLED: 4,
    State.ERROR: 4,
}


class HoldClaim(enum.StrEnum):
    """Who acts on an authorised hold at the provider. The first claim, taken under
    the payment's row lock before any provider call, wins: a confirmation (or an
    agency's capture) and the expiry sweeper never act on the same hold, and a
    claim is always carried through, by its claimant or by the sweeper."""

    CAPTURE = "capture"  # the citizen confirmed, or the agency captured
    RELEASE = "release"  # the page or the capture window expired


def can_move(current: State, target: State) -> bool:
    return target in TRANSITIONS[current]


@dataclass(frozen=True)
class NewPayment:
    """A validated CreatePayment request."""

    amount: int
    currency: str
    reference: str
    description: str
    return_url: str
    email: str
    language: str
    metadata: Mapping[str, str]
    delayed_capture: bool


@dataclass(frozen=True)
class Payment:
    id: str
    tenant: str
    amount: int
    currency: str
    reference: str
    description: str
    return_url: str
    email: str
    language: str
    metadata: Mapping[str, str]
    delayed_capture: bool
    state: State
    provider: str
    created_at: datetime
    updated_at: datetime
    agency_name: str = ""  # shown on the page
    failure: Failure | None = None
    provider_ref: str = ""
    card: CardSummary | None = None
    captured_amount: int = 0
    refunded_amount: int = 0  # submitted + successful refunds
    authorised_at: datetime | None = None
    captured_at: datetime | None = None
    hold_claim: HoldClaim | None = None
    # A hold the provider authorised after this payment stopped taking it (the
    # page expired or was cancelled meanwhile), until it is released.
    late_hold_ref: str = ""

    @property
    def finished(self) -> bool:
        return self.state.finished

    @property
    def refundable_amount(self) -> int:
        return self.captured_amount - self.refunded_amount

    def page_expires_at(self) -> datetime:
        return self.created_at + PAGE_LIFETIME

    def page_open(self, now: datetime) -> bool:
        """The hosted page may still be used: not finished, not past 90 minutes."""
        return (
            self.state in (State.CREATED, State.STARTED, State.SUBMITTED)
            and now < self.page_expires_at()
        )

    def capture_deadline(self) -> datetime | None:
        return None if self.authorised_at is None else self.authorised_at + CAPTURE_WINDOW

    def moved(self, target: State, now: datetime, failure: Failure | None = None) -> Payment:
        """This payment in ``target``; ``FailedPrecondition`` if the table forbids it."""
        if not can_move(self.state, target):
            raise FailedPrecondition(
                f"payment {self.id} is {self.state.value} and cannot become {target.value}"
            )
        allowed = FAILURES_OF.get(target, frozenset())
        if (failure is None) != (not allowed) or (failure is not None and failure not in allowed):
            raise ValueError(f"failure {failure} does not fit state {target}")
        changes: dict[str, object] = {"state": target, "failure": failure, "updated_at": now}
        if target is State.SUCCESS:
            changes.update(captured_amount=self.amount, captured_at=now)
        return replace(self, **changes)  # type: ignore[arg-type]


def validate_new(
    *,
    amount: int,
    currency: str,
    reference: str,
    description: str,
    return_url: str,
    email: str,
    language: str,
    metadata: Mapping[str, str],
    delayed_capture: bool,
    max_amount: int,
) -> NewPayment:
    """Every field checked, every problem reported at once, before anything is stored."""
    currency = currency or money.DEFAULT_CURRENCY
    language = language or "en"
    violations = [
        *money.check_currency(currency),
        *money.check_amount(amount, max_amount),
        *_text("reference", reference),
        *_text("description", description),
        *_return_url(return_url),
        *_email(email),
        *_metadata(metadata),
    ]
    if language not in LANGUAGES:
        violations.append(FieldViolation("language", f"must be one of {', '.join(LANGUAGES)}"))
    if violations:
        raise InvalidArgument.from_violations(violations)
    return NewPayment(
        amount=amount,
        currency=currency,
        reference=reference,
        description=description,
        return_url=return_url,
        email=email,
        language=language,
        metadata=dict(metadata),
        delayed_capture=delayed_capture,
    )


def _text(name: str, value: str) -> list[FieldViolation]:
    if not value.strip():
        return [FieldViolation(name, "required")]
    if len(value) > MAX_TEXT:
        return [FieldViolation(name, f"must be at most {MAX_TEXT} characters")]
    if not value.isprintable():
        return [FieldViolation(name, "must not contain control characters")]
    return []


def _return_url(value: str) -> list[FieldViolation]:
    """Where the citizen's browser goes back to (not a request payments makes):
    the platform's URL rules (``services.runtime.urls``), a fragment allowed."""
    problem = urls.problem(value, fragment=True)
    return [FieldViolation("return_url", problem)] if problem else []


def _email(value: str) -> list[FieldViolation]:
    if not value:
        return []
    local, at, domain = value.rpartition("@")
    if (
        len(value) > MAX_EMAIL
        or not at
        or not local
        or "." not in domain
        or any(ch.isspace() for ch in value)
        or not value.isprintable()
    ):
        return [FieldViolation("email", "must be an email address such as name@example.com")]
    return []


def _metadata(metadata: Mapping[str, str]) -> list[FieldViolation]:
    violations = []
    if len(metadata) > MAX_METADATA_KEYS:
        violations.append(FieldViolation("metadata", f"at most {MAX_METADATA_KEYS} keys"))
    for key, value in metadata.items():
        if not key or len(key) > MAX_METADATA_KEY or not key.isprintable():
            violations.append(
                FieldViolation(
                    f"metadata.{key[:40]}", f"keys are 1 to {MAX_METADATA_KEY} characters"
                )
            )
        if len(value) > MAX_METADATA_VALUE or not value.isprintable():
            violations.append(
                FieldViolation(
                    f"metadata.{key[:40]}", f"values are at most {MAX_METADATA_VALUE} characters"
                )
            )
    return violations
