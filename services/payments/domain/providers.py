"""What payments needs from a card provider (sandbox, Stripe).

Every call carries an idempotency key derived from the payment and the
operation, so a call repeated after a crash has one effect at the provider.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol

from services.payments.domain.cards import Card


class Outcome(enum.StrEnum):
    AUTHORISED = "authorised"  # held; capture or cancel follows
    DECLINED = "declined"
    CARD_EXPIRED = "card_expired"
    ERROR = "error"


@dataclass(frozen=True)
class Authorisation:
    outcome: Outcome
    reference: str = ""  # the provider's id for the charge


@dataclass(frozen=True)
class RefundResult:
    succeeded: bool  # False: pending at the provider (a webhook will settle it)
    reference: str = ""


class ProviderError(Exception):
    """The provider failed or could not be reached; the operation did not happen
    as far as we know, and may be retried with the same key."""


class ProviderRefused(Exception):
    """The provider refused the operation for good (for example a refund)."""


class Provider(Protocol):
    name: str

    def authorise(
        self, *, payment_id: str, amount: int, currency: str, card: Card, idempotency_key: str
    ) -> Authorisation: ...

    def capture(self, *, reference: str, amount: int, idempotency_key: str) -> None: ...

    def cancel(self, *, reference: str, idempotency_key: str) -> None: ...

    def refund(
        self, *, reference: str, amount: int, refund_id: str, idempotency_key: str
    ) -> RefundResult: ...


class ProviderMismatch(ProviderRefused):
    """The provider's answer names another amount or currency than the payment's:
    a provider error, never recorded as money moved (and counted, for an alert)."""

    def __init__(self, fields: tuple[str, ...]) -> None:
        super().__init__(f"the provider reported another {' and '.join(fields)}")
        self.fields = fields


def mismatched(
    amount: int, currency: str, reported_amount: object, reported_currency: object
) -> tuple[str, ...]:
    """The fields of a provider's report that differ from the payment's; a missing
    or malformed field differs too (nothing a provider says is taken on trust)."""
    found: list[str] = []
    if type(reported_amount) is not int or reported_amount != amount:
        found.append("amount")
    if not isinstance(reported_currency, str) or reported_currency.upper() != currency.upper():
        found.append("currency")
    return tuple(found)


def operation_key(payment_id: str, operation: str) -> str:
    """The provider idempotency key of one operation on one payment."""
    return f"gaap-{payment_id}-{operation}"
