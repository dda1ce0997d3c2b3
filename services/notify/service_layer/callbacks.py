"""Registering an agency's delivery-status callback (SetStatusCallback,
GetStatusCallback, DeleteStatusCallback), and trying it: a test callback
(SendTestStatusCallback) and a notification's callback sent again
(RedeliverStatusCallback), both through the same outbox and signature.

Each status change enqueues a callback in the same transaction as the change
(``CallbackOutbox``), so an accepted change always gets its callback; the
outbox signs it (``Gaap-Signature``) and retries network errors, 408, 429 and
5xx with backoff, never other 4xx.
"""

from __future__ import annotations

from collections.abc import Callable

from services.notify.domain.callbacks import Callback, Queued, latest_callback, test_callback
from services.notify.service_layer.unit_of_work import NotifyTransactions, NotifyWork
from services.runtime import urls
from services.runtime.clock import Clock, utcnow
from services.runtime.egress import Egress
from services.runtime.errors import FailedPrecondition, NotFound
from services.runtime.idempotency import Keyed, Replay, claim_id, complete_id, run_once
from services.runtime.ids import new_id


class CallbackService:
    def __init__(
        self,
        uow: NotifyTransactions,
        egress: Egress,
        new_secret: Callable[[], str],
        clock: Clock = utcnow,
    ) -> None:
        self._uow = uow
        self._egress = egress  # what a callback URL may point at
        self._new_secret = new_secret
        self._clock = clock

    def set(self, tenant: str, url: str, call: Keyed) -> Callback:
        """Register ``url`` with a new signing secret. The key records only the
        callback's id, never the secret: a replay reads the callback (and its
        secret, sealed at rest) again, as long as it is still the registered one."""
        urls.require_target("url", url, self._egress)
        with self._uow() as uow:
            replay = claim_id(uow.idempotency, call)
            if replay is not None:
                found = uow.callbacks.with_secret(tenant, replay)
                if found is None:
                    raise NotFound(
                        "the status callback set with this key has since been replaced or deleted"
                    )
                return found
            now = self._clock()
            callback_id = new_id("cb")
            secret = self._new_secret()
            uow.callbacks.replace(tenant, callback_id, url, secret, now)
            complete_id(uow.idempotency, call, callback_id)
            return Callback(url, now, secret)

    def send_test(
        self, tenant: str, call: Keyed, encode: Callable[[Queued], bytes]
    ) -> Queued | Replay:
        """Queue a signed ``callback.test`` POST to the agency's registered URL."""

        def work(uow: NotifyWork) -> Queued:
            now = self._clock()
            queued = uow.outbox.send(tenant, test_callback(now), now)
            if queued is None:
                raise _no_callback()
            return queued

        return run_once(self._uow, call, work, encode)

    def redeliver(
        self, tenant: str, notification_id: str, call: Keyed, encode: Callable[[Queued], bytes]
    ) -> Queued | Replay:
        """Queue the callback of one of the agency's notifications' current status
        again (the same event id and body), to the URL registered now."""

        def work(uow: NotifyWork) -> Queued:
            found = uow.notifications.get(tenant, notification_id)
            if found is None:
                raise NotFound(f"no notification {notification_id!r}")
            callback = latest_callback(found)
            if callback is None:
                raise FailedPrecondition(
                    f"notification {notification_id!r} is still created: no callback was sent yet"
                )
            queued = uow.outbox.send(tenant, callback, self._clock())
            if queued is None:
                raise _no_callback()
            return queued

        return run_once(self._uow, call, work, encode)

    def get(self, tenant: str) -> Callback:
        with self._uow.read() as uow:
            found = uow.callbacks.get(tenant)
        if found is None:
            raise NotFound("no status callback is registered")
        return found

    def delete(self, tenant: str, call: Keyed, encode: Callable[[bool], bytes]) -> bool | Replay:
        def work(uow: NotifyWork) -> bool:
            uow.callbacks.delete(tenant)
            return True

        return run_once(self._uow, call, work, encode)


def _no_callback() -> FailedPrecondition:
    return FailedPrecondition("no status callback is registered: call SetStatusCallback first")
