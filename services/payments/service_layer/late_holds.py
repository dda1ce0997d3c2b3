"""Holds authorised after their payment stopped taking them.

The sweeper (page expiry) or a cancellation can finish a payment while its card
is still being authorised. When that authorisation succeeds, the payment is not
moved: the transaction that finds it finished records the hold
(``late_hold_ref``, event ``payment.authorised_late``), and the hold is then
released at the provider at once (``payment.authorisation_released``).
Recording before releasing is what makes the release certain: if the provider
is down, or the process stops before the release, the hold stays on record and
every sweep tries again (``Sweeper`` calls ``release_all``) until the provider
releases it or refuses for good. The provider key is the payment's own, so a
repeat, or two replicas at once, release it once.
"""

from __future__ import annotations

import logging

from services.payments.domain import events
from services.payments.domain.payments import Payment
from services.payments.domain.providers import ProviderError, ProviderRefused, operation_key
from services.payments.service_layer.changes import Changes
from services.payments.service_layer.providers import Providers
from services.payments.service_layer.unit_of_work import PaymentsWork
from services.runtime.clock import Clock, utcnow
from services.runtime.unit_of_work import Transactions

log = logging.getLogger(__name__)
RELEASE = "release-late"  # the provider operation, in the key


class LateHolds:
    def __init__(
        self, uow: Transactions[PaymentsWork], providers: Providers, *, clock: Clock = utcnow
    ) -> None:
        self._uow = uow
        self._providers = providers
        self._clock = clock

    def release(self, payment_id: str) -> Payment | None:
        """Release the payment's late hold and record it; the payment as recorded
        then, or None if there is nothing to release or the provider is down (the
        hold stays on record for the next sweep)."""
        with self._uow.read() as uow:
            payment = uow.payments.get_by_id(payment_id)
        if payment is None or not payment.late_hold_ref:
            return None
        try:
            self._providers.named(payment.provider).cancel(
                reference=payment.late_hold_ref,
                idempotency_key=operation_key(payment.id, RELEASE),
            )
        except ProviderError:
            log.warning(
                "provider down; a late hold waits for the next sweep", extra={"payment": payment.id}
            )
            return None
        except ProviderRefused:
            log.error("provider refused to release a late hold", extra={"payment": payment.id})
            outcome = events.LATE_HOLD_REFUSED
        else:
            outcome = events.LATE_HOLD_RELEASED
        with self._uow() as uow:
            current = uow.payments.get_by_id(payment_id, lock=True)
            if current is None or current.late_hold_ref != payment.late_hold_ref:
                return None  # another replica recorded the same release first
            return Changes(uow, self._clock()).late_hold_settled(current, outcome)

    def release_all(self, limit: int) -> int:
        """One sweep's worth: every late hold still on record; how many were settled."""
        with self._uow.read() as uow:
            pending = uow.payments.with_late_holds(limit)
        return sum(self.release(payment_id) is not None for payment_id in pending)
