"""One transaction's writes that always go together: the payment row, its
event, the agency webhooks for it and, for money movements, the ledger lines."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from services.payments.domain import events, ledger
from services.payments.domain.payments import Failure, HoldClaim, Payment, State
from services.payments.domain.refunds import Refund, RefundState
from services.payments.domain.webhooks import Subscription
from services.payments.service_layer.unit_of_work import PaymentsWork


class Changes:
    def __init__(self, uow: PaymentsWork, now: datetime) -> None:
        self.uow = uow
        self.now = now
        self.payments = uow.payments
        self.events = uow.events
        self.refunds = uow.refunds
        self.ledger = uow.ledger
        self._subscriptions: dict[str, list[Subscription]] = {}

    def created(self, payment: Payment) -> None:
        self.payments.add(payment)
        self.events.add(payment, events.CREATED, self.now)
        self.notify(payment, events.CREATED)

    def move(self, payment: Payment, target: State, failure: Failure | None = None) -> Payment:
        """Apply one transition of the state machine with everything it implies."""
        moved = payment.moved(target, self.now, failure)
        self.payments.save(moved)
        event = events.STATE_EVENTS[target]
        self.events.add(moved, event, self.now)
        if target is State.SUCCESS:
            self.ledger.post(
                ledger.capture_entry(
                    tenant=moved.tenant,
                    provider=moved.provider,
                    amount=moved.amount,
                    currency=moved.currency,
                ),
                tenant=moved.tenant,
                payment_id=moved.id,
                refund_id=None,
                kind="capture",
                at=self.now,
            )
            self.notify(moved, events.CAPTURED)
        if event in events.WEBHOOK_EVENTS:
            self.notify(moved, event)
        return moved

    def claim_hold(self, payment: Payment, claim: HoldClaim) -> Payment:
        """Record who acts on the payment's hold (``HoldClaim``); the caller holds
        the row lock and has checked that nobody claimed it before."""
        claimed = replace(payment, hold_claim=claim, updated_at=self.now)
        self.payments.save(claimed)
        return claimed

    def authorised_late(self, payment: Payment, reference: str) -> Payment:
        """An authorisation landed after the payment stopped taking it: its hold is
        kept on record (``late_hold_ref``) until released, never as the payment's."""
        late = replace(
            payment,
            late_hold_ref=reference,
            provider_ref=payment.provider_ref or reference,
            updated_at=self.now,
        )
        self.payments.save(late)
        self.events.add(late, events.AUTHORISED_LATE, self.now)
        return late

    def late_hold_settled(self, payment: Payment, event_type: str) -> Payment:
        """The late hold is released (or the provider refused for good): off the record."""
        settled = replace(payment, late_hold_ref="", updated_at=self.now)
        self.payments.save(settled)
        self.events.add(settled, event_type, self.now)
        return settled

    def refund_requested(self, payment: Payment, refund: Refund) -> Payment:
        self.refunds.add(refund)
        reserved = replace(
            payment, refunded_amount=payment.refunded_amount + refund.amount, updated_at=self.now
        )
        self.payments.save(reserved)
        self.events.add(reserved, "refund.submitted", self.now, refund.id)
        return reserved

    def refund_settled(
        self, payment: Payment, refund: Refund, state: RefundState, provider_ref: str = ""
    ) -> tuple[Payment, Refund]:
        settled = replace(
            refund,
            state=state,
            updated_at=self.now,
            provider_ref=provider_ref or refund.provider_ref,
        )
        self.refunds.save(settled)
        if state is RefundState.SUCCESS:
            self.ledger.post(
                ledger.refund_entry(
                    tenant=payment.tenant,
                    provider=payment.provider,
                    amount=refund.amount,
                    currency=refund.currency,
                ),
                tenant=payment.tenant,
                payment_id=payment.id,
                refund_id=refund.id,
                kind="refund",
                at=self.now,
            )
            self.events.add(payment, "refund.succeeded", self.now, refund.id)
            self.notify(payment, events.REFUNDED, refund=settled)
        elif state is RefundState.FAILED:
            payment = replace(
                payment,
                refunded_amount=payment.refunded_amount - refund.amount,
                updated_at=self.now,
            )
            self.payments.save(payment)
            self.events.add(payment, "refund.failed", self.now, refund.id)
        return payment, settled

    def notify(self, payment: Payment, event_type: str, refund: Refund | None = None) -> None:
        """Queue the event for every subscription that wants it (same transaction)."""
        subs = self._subscriptions.get(payment.tenant)
        if subs is None:
            subs = self._subscriptions[payment.tenant] = self.uow.subscriptions.active(
                payment.tenant
            )
        wanted = [s for s in subs if s.wants(event_type)]
        if not wanted:
            return
        event_id, body = events.webhook_event(payment, event_type, self.now, refund)
        for sub in wanted:
            self.uow.deliveries.enqueue(
                tenant=payment.tenant,
                subscription_id=sub.id,
                url=sub.url,
                event_id=event_id,
                event_type=event_type,
                payload=body,
                now=self.now,
            )
