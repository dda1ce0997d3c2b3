"""Reading notifications and cancelling one not yet sent (GetNotification,
ListNotifications, CancelNotification)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta

from services.notify.domain.agency_settings import Defaults, settings_from
from services.notify.domain.notifications import Notification
from services.notify.domain.notifications import recipient as normalised_recipient
from services.notify.domain.paging import page_key
from services.notify.domain.recipients import RecipientError
from services.notify.domain.statuses import CANCELLED, CREATED
from services.notify.service_layer.unit_of_work import NotifyTransactions, NotifyWork
from services.runtime.clock import Clock, utcnow
from services.runtime.errors import FailedPrecondition, FieldViolation, InvalidArgument, NotFound
from services.runtime.idempotency import Keyed, Replay, run_once
from services.runtime.pagination import Page, PageRequest

MAX_STATS_DAYS = 366


class NotificationService:
    def __init__(
        self, uow: NotifyTransactions, clock: Clock = utcnow, defaults: Defaults | None = None
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._defaults = defaults or Defaults()

    def get(self, tenant: str, notification_id: str) -> Notification:
        with self._uow.read() as uow:
            found = uow.notifications.get(tenant, notification_id)
        if found is None:
            raise NotFound(f"no notification {notification_id!r}")
        return found

    def day_counts(
        self, tenant: str, start: datetime, end: datetime
    ) -> dict[tuple[date, str, str], int]:
        """Per (UTC day created, channel, status now): one grouped query."""
        if end <= start or end - start > timedelta(days=MAX_STATS_DAYS):
            raise InvalidArgument.from_violations(
                [
                    FieldViolation(
                        "end_time", f"must be after start_time, within {MAX_STATS_DAYS} days"
                    )
                ]
            )
        with self._uow.read() as uow:
            return uow.notifications.day_counts(tenant, start, end)

    def history(self, tenant: str, notification_id: str) -> list[tuple[str, datetime]]:
        """A notification's statuses (status, time), oldest first: created when
        it was, then each change notify recorded."""
        with self._uow.read() as uow:
            found = uow.notifications.get(tenant, notification_id)
            if found is None:
                raise NotFound(f"no notification {notification_id!r}")
            return [(CREATED, found.created_at), *uow.history.of(tenant, notification_id)]

    def list(
        self,
        tenant: str,
        page: PageRequest,
        *,
        status: str | None = None,
        channel: str | None = None,
        template_id: str | None = None,
        reference: str | None = None,
        bulk_send_id: str | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
        recipient: str | None = None,
    ) -> Page[Notification]:
        with self._uow.read() as uow:
            if recipient:
                # Stored recipients are normalised (sending's rules, the agency's
                # region for phone numbers), so the one searched for is too.
                channel = channel or ("email" if "@" in recipient else "sms")
                rules = settings_from(uow.agency_settings.get(tenant), self._defaults).sms_rules
                try:
                    recipient = normalised_recipient(channel, recipient, rules)
                except RecipientError as exc:
                    raise InvalidArgument.from_violations(
                        [FieldViolation("recipient", str(exc))]
                    ) from None
            found = uow.notifications.list(
                tenant,
                page.size,
                page.after,
                status=status,
                channel=channel,
                template_id=template_id,
                reference=reference,
                bulk_send_id=bulk_send_id,
                created_after=created_after,
                created_before=created_before,
                recipient=recipient or None,
            )
        return Page.from_overfetch(found, page.size, lambda n: page_key(n.created_at, n.id))

    def cancel(
        self,
        tenant: str,
        notification_id: str,
        call: Keyed,
        encode: Callable[[Notification], bytes],
    ) -> Notification | Replay:
        def work(uow: NotifyWork) -> Notification:
            current = uow.notifications.get(tenant, notification_id)
            if current is None:
                raise NotFound(f"no notification {notification_id!r}")
            if current.status == CANCELLED:
                return current
            if current.status != CREATED:
                raise FailedPrecondition(
                    f"notification is {current.status}: only one not yet sent can be cancelled"
                )
            now = self._clock()
            changes = uow.notifications.cancel_unclaimed(
                tenant, now, notification_id=notification_id
            )
            uow.history.record(changes, now)
            uow.outbox.emit(changes, now)
            after = uow.notifications.get(tenant, notification_id)
            assert after is not None
            if after.status != CANCELLED:
                raise FailedPrecondition("a worker took it while cancelling; it is being sent")
            return after

        return run_once(self._uow, call, work, encode)
