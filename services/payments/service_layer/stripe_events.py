"""Stripe's webhook events applied to payments and refunds.

Each event id is recorded in the same transaction as its effect, so a
redelivered event changes nothing. An event's amount and currency must be the
payment's (or the refund's): a mismatch is a provider error, never money moved.
Events only move a payment forward through the state machine: a late
``payment_intent.amount_capturable_updated`` after ``payment_intent.succeeded``
is ignored.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from services.payments.domain.payments import RANK, Failure, Payment, State, can_move
from services.payments.domain.providers import mismatched
from services.payments.domain.refunds import RefundState
from services.payments.mismatches import provider_mismatch
from services.payments.service_layer.changes import Changes
from services.payments.service_layer.unit_of_work import PaymentsWork
from services.runtime.clock import Clock, utcnow
from services.runtime.unit_of_work import Transactions

log = logging.getLogger(__name__)
PROVIDER = "stripe"


class StripeEvents:
    def __init__(self, uow: Transactions[PaymentsWork], *, clock: Clock = utcnow) -> None:
        self._uow = uow
        self._clock = clock

    def apply(self, event: Mapping[str, Any]) -> bool:
        """Apply one verified event; False if it was seen before."""
        event_id = str(event.get("id", ""))
        event_type = str(event.get("type", ""))
        obj = event.get("data", {}).get("object", {})
        if not event_id or not isinstance(obj, dict):
            raise ValueError("not a Stripe event")
        now = self._clock()
        with self._uow() as uow:
            if not uow.stripe_events.first_time(event_id, event_type[:100], now):
                return False
            changes = Changes(uow, now)
            if event_type.startswith("payment_intent."):
                self._intent(changes, event_type, obj)
            elif event_type.startswith(("refund.", "charge.refund")):
                self._refund(changes, obj)
            return True

    def _intent(self, changes: Changes, event_type: str, intent: Mapping[str, Any]) -> None:
        payment = changes.payments.get_by_provider_ref(PROVIDER, str(intent.get("id")), lock=True)
        if payment is None:
            return
        if event_type == "payment_intent.succeeded":
            if _matches(changes, payment, intent, "amount_received"):
                self._forward(changes, payment, State.SUCCESS, None)
        elif event_type == "payment_intent.payment_failed" and payment.authorised_at is None:
            self._forward(changes, payment, State.FAILED, Failure.DECLINED)
        elif event_type == "payment_intent.canceled" and payment.state is State.CAPTURABLE:
            self._forward(changes, payment, State.CANCELLED, Failure.CAPTURE_WINDOW_EXPIRED)
        elif (
            event_type == "payment_intent.amount_capturable_updated"
            and payment.state is State.SUBMITTED
            and payment.authorised_at is None
            and _matches(changes, payment, intent, "amount_capturable")
        ):
            authorised = replace(payment, authorised_at=changes.now, updated_at=changes.now)
            changes.payments.save(authorised)
            changes.events.add(authorised, "payment.authorised", changes.now)

    @staticmethod
    def _forward(
        changes: Changes, payment: Payment, target: State, failure: Failure | None
    ) -> None:
        if RANK[target] <= RANK[payment.state] or not can_move(payment.state, target):
            log.info("stale stripe event ignored", extra={"payment": payment.id})
            return
        changes.move(payment, target, failure)

    @staticmethod
    def _refund(changes: Changes, obj: Mapping[str, Any]) -> None:
        refund_objects = [obj] if obj.get("object") == "refund" else []
        if obj.get("object") == "charge":
            refund_objects = list(obj.get("refunds", {}).get("data", []))
        for item in refund_objects:
            refund = changes.refunds.get_by_provider_ref(str(item.get("id")))
            if refund is None:
                wanted = str(item.get("metadata", {}).get("gaap_refund_id", ""))
                refund = changes.refunds.get_by_id(wanted) if wanted else None
            if refund is None or refund.state is not RefundState.SUBMITTED:
                continue
            wrong = mismatched(
                refund.amount, refund.currency, item.get("amount"), item.get("currency")
            )
            if wrong:  # stays submitted (reserved): an operator looks at it
                provider_mismatch(PROVIDER, refund.payment_id, wrong)
                continue
            status = item.get("status")
            target = {"succeeded": RefundState.SUCCESS, "failed": RefundState.FAILED}.get(
                str(status)
            )
            if target is None:
                continue
            payment = changes.payments.get_by_id(refund.payment_id, lock=True)
            if payment is not None:
                changes.refund_settled(payment, refund, target, str(item.get("id")))


def _matches(changes: Changes, payment: Payment, intent: Mapping[str, Any], field: str) -> bool:
    """Whether the event's amount (``field``) and currency are the payment's. If
    not, the payment becomes a provider error where the state machine allows it;
    either way it is never recorded as paid, and the mismatch is counted."""
    wrong = mismatched(payment.amount, payment.currency, intent.get(field), intent.get("currency"))
    if not wrong:
        return True
    provider_mismatch(PROVIDER, payment.id, wrong)
    if can_move(payment.state, State.ERROR):
        changes.move(payment, State.ERROR, Failure.PROVIDER_ERROR)
    return False
