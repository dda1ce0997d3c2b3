"""Background clean-up, safe when every replica runs it at once.

- Pages not finished 90 minutes after creation fail (``page_expired``), releasing
  any authorisation at the provider first.
- Delayed-capture payments not captured 120 hours after authorisation are
  cancelled (``capture_window_expired``), releasing the hold.
- Holds authorised after their payment stopped taking them (``late_holds``)
  whose release at the provider failed are released again.
- Refunds reserved but never acknowledged by the provider (a crash, an outage)
  are sent again with the same provider key.

Each payment is claimed for release under a row lock (``HoldClaim``) before its
hold is released, and moved only if it is still due; a payment already claimed
for capture (the citizen confirmed, the agency captured) has its capture
finished instead, so a capture that happens always ends ``success``. Provider
calls carry the payment's own idempotency key, so two replicas sweeping
together have one effect.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from services.payments.domain.payments import (
    CAPTURE_WINDOW,
    PAGE_LIFETIME,
    Failure,
    HoldClaim,
    Payment,
    State,
)
from services.payments.domain.providers import ProviderError, ProviderRefused, operation_key
from services.payments.domain.refunds import RefundState
from services.payments.service_layer.changes import Changes
from services.payments.service_layer.checkout import Checkout
from services.payments.service_layer.late_holds import LateHolds
from services.payments.service_layer.payments import PaymentsService
from services.payments.service_layer.providers import Providers
from services.payments.service_layer.unit_of_work import PaymentsWork
from services.runtime.clock import Clock, utcnow
from services.runtime.errors import Unavailable
from services.runtime.unit_of_work import Transactions

log = logging.getLogger(__name__)
STUCK_REFUND_AFTER = timedelta(minutes=5)


class Sweeper:
    def __init__(
        self,
        uow: Transactions[PaymentsWork],
        providers: Providers,
        payments: PaymentsService,
        checkout: Checkout,
        *,
        clock: Clock = utcnow,
        batch: int = 200,
    ) -> None:
        self._uow = uow
        self._providers = providers
        self._payments = payments
        self._checkout = checkout
        self._late_holds = LateHolds(uow, providers, clock=clock)
        self._clock = clock
        self._batch = batch

    def run_once(self) -> int:
        """One sweep; returns how many payments and refunds it changed."""
        now = self._clock()
        with self._uow.read() as uow:
            repo = uow.payments
            pages = repo.due_for_page_expiry(now - PAGE_LIFETIME, self._batch)
            holds = repo.due_for_capture_expiry(now - CAPTURE_WINDOW, self._batch)
        changed = sum(self._expire(pid, State.FAILED, Failure.PAGE_EXPIRED) for pid in pages)
        changed += sum(
            self._expire(pid, State.CANCELLED, Failure.CAPTURE_WINDOW_EXPIRED) for pid in holds
        )
        changed += self._late_holds.release_all(self._batch)
        changed += self._resubmit_refunds(now - STUCK_REFUND_AFTER)
        with self._uow() as uow:
            uow.idempotency.purge_expired(now)
        return changed

    def _expire(self, payment_id: str, target: State, failure: Failure) -> int:
        claimed = self._claim_release(payment_id)
        if claimed is None:
            return 0
        if claimed.hold_claim is HoldClaim.CAPTURE:
            return self._finish_capture(claimed)
        if claimed.authorised_at is not None:
            try:
                self._providers.named(claimed.provider).cancel(
                    reference=claimed.provider_ref,
                    idempotency_key=operation_key(claimed.id, "cancel"),
                )
            except ProviderError:
                return 0  # try again next sweep
            except ProviderRefused:
                log.error("provider refused to release a hold", extra={"payment": claimed.id})
                target, failure = State.ERROR, Failure.PROVIDER_ERROR
        with self._uow() as uow:
            current = uow.payments.get_by_id(payment_id, lock=True)
            if (
                current is None
                or not self._due(current)
                or current.hold_claim is HoldClaim.CAPTURE
                or current.authorised_at != claimed.authorised_at
            ):
                return 0  # another replica or the citizen got there first, or it was
                # authorised meanwhile (the next sweep releases that hold)
            Changes(uow, self._clock()).move(current, target, failure)
        return 1

    def _claim_release(self, payment_id: str) -> Payment | None:
        """The payment, due and claimed for release under its row lock; or claimed
        for capture before it fell due (then the capture is finished instead)."""
        with self._uow() as uow:
            current = uow.payments.get_by_id(payment_id, lock=True)
            if current is None or not self._due(current):
                return None
            if current.hold_claim is None and current.authorised_at is not None:
                return Changes(uow, self._clock()).claim_hold(current, HoldClaim.RELEASE)
            return current

    def _finish_capture(self, payment: Payment) -> int:
        """A capture claimed (the citizen confirmed, or the agency captured) but not
        recorded yet, or whose claimant stopped: the capture wins. The provider
        call repeats the claimant's, with the same key."""
        try:
            if payment.state is State.SUBMITTED:
                finished = self._checkout.finish_capture(payment)
            else:
                finished = self._payments.finish_capture(payment)
        except Unavailable:
            return 0  # try again next sweep
        return int(finished.state is not payment.state)

    def _due(self, payment: Payment) -> bool:
        now = self._clock()
        if payment.state in (State.CREATED, State.STARTED, State.SUBMITTED):
            return now >= payment.page_expires_at()
        deadline = payment.capture_deadline()
        return payment.state is State.CAPTURABLE and deadline is not None and now >= deadline

    def _resubmit_refunds(self, older_than: datetime) -> int:
        with self._uow.read() as uow:
            stuck = uow.refunds.unsent(older_than, self._batch)
        return sum(
            self._payments.submit_refund(refund).state is not RefundState.SUBMITTED
            for refund in stuck
        )
