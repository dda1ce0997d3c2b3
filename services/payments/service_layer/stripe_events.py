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

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker

from services.payments.adapters import tables as t
from services.payments.adapters.repositories import Payments, Refunds
from services.payments.domain.payments import RANK, Failure, Payment, State, can_move
from services.payments.domain.providers import mismatched
from services.payments.domain.refunds import RefundState
from services.payments.metrics import provider_mismatch
from services.payments.service_layer.changes import Changes
from services.payments.service_layer.payments import Clock
from services.runtime.db import transaction
from services.runtime.db_types import utcnow

log = logging.getLogger(__name__)
PROVIDER = "stripe"


class StripeEvents:
    def __init__(self, sessions: sessionmaker[Session], *, clock: Clock = utcnow) -> None:
        self._sessions = sessions
        self._clock = clock

    def apply(self, event: Mapping[str, Any]) -> bool:
        """Apply one verified event; False if it was seen before."""
        event_id = str(event.get("id", ""))
        event_type = str(event.get("type", ""))
        obj = event.get("data", {}).get("object", {})
        if not event_id or not isinstance(obj, dict):
            raise ValueError("not a Stripe event")
        now = self._clock()
        with transaction(self._sessions) as session:
            if not _first_time(session, event_id, event_type, now):
                return False
            changes = Changes(session, now)
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
            refund = Refunds(changes.session).get_by_provider_ref(str(item.get("id")))
            if refund is None:
                wanted = str(item.get("metadata", {}).get("gaap_refund_id", ""))
                refund = _refund_by_id(changes.session, wanted)
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
            payment = Payments(changes.session).get_by_id(refund.payment_id, lock=True)
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


def _refund_by_id(session: Session, refund_id: str) -> Any:
    from services.payments.adapters.repositories import refund_from_row

    if not refund_id:
        return None
    row = session.execute(sa.select(t.refunds).where(t.refunds.c.id == refund_id)).first()
    return None if row is None else refund_from_row(row)


def _first_time(session: Session, event_id: str, event_type: str, now: Any) -> bool:
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    inserted = session.execute(
        insert(t.stripe_events)
        .values(id=event_id, type=event_type[:100], received_at=now)
        .on_conflict_do_nothing()
        .returning(t.stripe_events.c.id)
    ).first()
    return inserted is not None
