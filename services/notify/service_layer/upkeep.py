"""What happens to notifications after their sending: providers' delivery
receipts, and the periodic upkeep (personal data purged after the retention
period, accepted messages that never got a receipt given a final status,
expired idempotency keys deleted)."""

from __future__ import annotations

from datetime import timedelta

from services.notify.domain.statuses import TEMPORARY_FAILURE
from services.notify.service_layer.unit_of_work import NotifyTransactions
from services.runtime.clock import Clock, utcnow

RECEIPT_TIMEOUT = timedelta(hours=72)  # an SMS with no receipt by then: temporary-failure
MAINTENANCE_LOCK = "notify-maintenance"


class Upkeep:
    def __init__(self, uow: NotifyTransactions, retention: timedelta, clock: Clock = utcnow):
        self._uow = uow
        self._retention = retention
        self._clock = clock

    def apply_receipt(self, provider: str, message_id: str, status: str) -> bool:
        """A provider's delivery receipt: final unless the notification is final
        already (then nothing changes: False)."""
        now = self._clock()
        with self._uow() as uow:
            changes = uow.queue.apply_receipt(provider, message_id, status, now)
            uow.history.record(changes, now)
            uow.outbox.emit(changes, now)
        return bool(changes)

    def maintain(self) -> dict[str, int]:
        """Retention and timeouts, once across replicas (the others wait, then
        find nothing left to do)."""
        now = self._clock()
        with self._uow() as uow:
            uow.lock(MAINTENANCE_LOCK)
            purged = 0
            while True:
                batch = uow.queue.purge_personal_data(now - self._retention, now)
                purged += batch
                if batch == 0:
                    break
            changes = uow.queue.time_out_unreceipted(now - RECEIPT_TIMEOUT, now, TEMPORARY_FAILURE)
            uow.history.record(changes, now)
            uow.outbox.emit(changes, now)
            # Stored responses hold recipients and content: they go after 24 hours.
            keys = uow.idempotency.purge_expired(now)
        return {"purged": purged, "timed_out": len(changes), "keys": keys}
