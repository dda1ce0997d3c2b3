"""A permit application and its rules: what a valid form is, and how it moves
from payment to confirmation. No I/O here."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from services.runtime.errors import FailedPrecondition, FieldViolation, InvalidArgument

_REGISTRATION = re.compile(r"^[A-Z0-9]{2,8}$")
_POSTCODE = re.compile(r"^[A-Z]{1,2}[0-9][A-Z0-9]? ?[0-9][A-Z]{2}$")
_PHONE = re.compile(r"^\+?[0-9 ]{7,20}$")


class State(StrEnum):
    AWAITING_PAYMENT = "awaiting_payment"
    PAID = "paid"  # the payment webhook arrived; notices not yet accepted by notify
    CONFIRMED = "confirmed"  # paid and the confirmation email and SMS were queued
    PAYMENT_FAILED = "payment_failed"


@dataclass(frozen=True)
class ApplicationForm:
    full_name: str
    email: str
    phone: str
    vehicle: str
    postcode: str


@dataclass(frozen=True)
class Application:
    id: str
    subject: str  # the citizen's sub from the ID token (pairwise for this agency)
    reference: str
    form: ApplicationForm
    language: str
    amount: int
    currency: str
    state: State
    created_at: datetime
    signed_in_at: datetime | None = None
    payment_id: str = ""
    next_url: str = ""
    email_notification_id: str = ""
    sms_notification_id: str = ""

    def paid(self) -> Application:
        if self.state is State.PAYMENT_FAILED:
            raise FailedPrecondition("the payment of this application failed")
        if self.state is not State.AWAITING_PAYMENT:
            return self  # a repeated webhook changes nothing
        return replace(self, state=State.PAID)

    def payment_failed(self) -> Application:
        if self.state is not State.AWAITING_PAYMENT:
            return self
        return replace(self, state=State.PAYMENT_FAILED)

    def notified(self, email_id: str, sms_id: str) -> Application:
        if self.state not in (State.PAID, State.CONFIRMED):
            raise FailedPrecondition("only a paid application is confirmed")
        return replace(
            self, state=State.CONFIRMED, email_notification_id=email_id, sms_notification_id=sms_id
        )


def new_ids() -> tuple[str, str]:
    """An application id and the reference the citizen quotes (no 0/O or 1/I)."""
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    reference = "PRK-" + "".join(secrets.choice(alphabet) for _ in range(8))
    return "app_" + secrets.token_hex(12), reference


def validate(raw: dict[str, str]) -> ApplicationForm:
    """The form, normalised, or ``InvalidArgument`` with one violation per field
    (``field`` is the input's id; ``description`` an English message the page
    translates)."""
    full_name = " ".join(raw.get("full-name", "").split())
    email = raw.get("email", "").strip()
    phone = raw.get("phone", "").strip()
    vehicle = re.sub(r"\s+", "", raw.get("vehicle", "")).upper()
    postcode = " ".join(raw.get("postcode", "").upper().split())
    problems: list[FieldViolation] = []
    if not full_name or len(full_name) > 100:
        problems.append(FieldViolation("full-name", "Enter your full name"))
    if "@" not in email or len(email) > 254 or " " in email:
        problems.append(FieldViolation("email", "Enter an email address in the correct format"))
    if not _PHONE.match(phone):
        problems.append(FieldViolation("phone", "Enter a mobile phone number, like 07700 900123"))
    if not _REGISTRATION.match(vehicle):
        problems.append(FieldViolation("vehicle", "Enter the vehicle registration, like AB12 CDE"))
    if not _POSTCODE.match(postcode):
        problems.append(FieldViolation("postcode", "Enter a postcode in the permit zone"))
    if problems:
        raise InvalidArgument.from_violations(problems)
    return ApplicationForm(full_name, email, phone, vehicle, postcode)
