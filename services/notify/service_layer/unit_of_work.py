"""What notify's use cases keep, as ports: one transaction's repositories
(``NotifyWork``), and the send path's two fast ways in (``SendWriter``,
``SettingsLookup``). The SQL implementations are in ``adapters/``; the tests'
in-memory fakes in ``tests/fakes/notify.py``."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from typing import Protocol

from services.notify.domain.agency_settings import Stored
from services.notify.domain.bulk_sends import BulkSend
from services.notify.domain.callbacks import Callback, Outgoing, Queued, StatusChange
from services.notify.domain.notifications import Notification
from services.notify.domain.queue import Claimed, Outcome
from services.notify.domain.sends import NewRow, NewSend, SendOutcome
from services.notify.domain.templates import Template
from services.runtime.idempotency import IdempotencyStore
from services.runtime.unit_of_work import Transactions


class TemplateStore(Protocol):
    def add(self, template: Template) -> None:
        """A new template (version 1) or its next version."""
        ...

    def get(
        self, tenant: str, template_id: str, version: int = 0, *, lock: bool = False
    ) -> Template | None:
        """A version (0: the latest); ``lock`` holds it until the transaction ends."""
        ...

    def history(
        self, tenant: str, template_id: str, size: int, before: int | None
    ) -> list[Template]:
        """A template's versions below ``before`` (None: all), newest first,
        ``size + 1`` at most."""
        ...

    def list(
        self, tenant: str, size: int, after: str | None, channel: str | None
    ) -> list[Template]:
        """Latest versions, newest first, ``size + 1`` at most (to tell a next page)."""
        ...

    def latest_versions(self, template_ids: Iterable[str]) -> dict[str, tuple[str, int]]:
        """Each template's tenant and latest version."""
        ...


class NotificationStore(Protocol):
    def add_many(self, rows: Sequence[NewRow]) -> None: ...

    def get(self, tenant: str, notification_id: str) -> Notification | None: ...

    def cancel_unclaimed(
        self,
        tenant: str,
        now: datetime,
        *,
        notification_id: str | None = None,
        bulk_send_id: str | None = None,
    ) -> list[StatusChange]:
        """Cancel the one notification, or the bulk send's, that no worker has
        claimed yet (still created); final statuses are never touched."""
        ...

    def list(
        self,
        tenant: str,
        size: int,
        after: str | None,
        *,
        status: str | None = None,
        channel: str | None = None,
        template_id: str | None = None,
        reference: str | None = None,
        bulk_send_id: str | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
        recipient: str | None = None,
    ) -> list[Notification]:
        """Newest first, ``size + 1`` at most; ``recipient`` is normalised."""
        ...

    def status_counts(self, bulk_send_id: str) -> dict[str, int]: ...

    def day_counts(
        self, tenant: str, start: datetime, end: datetime
    ) -> dict[tuple[date, str, str], int]:
        """Notifications created in the range, counted per (UTC day, channel,
        status now); combinations with none left out."""
        ...


class DeliveryQueue(Protocol):
    """Notifications due for sending, claimed by workers with a lease. Every
    change is conditional on the notification not being final."""

    def claim(
        self, now: datetime, limit: int, lease: timedelta
    ) -> tuple[list[Claimed], list[StatusChange]]:
        """Up to ``limit`` due notifications, each leased until ``now + lease``
        (claimed again after that unless a provider accepted it); the changes
        are those that were waiting (created) and are now sending."""
        ...

    def record(self, outcomes: Sequence[Outcome], now: datetime) -> list[StatusChange]:
        """Apply attempts' outcomes; the changes are the final statuses taken."""
        ...

    def apply_receipt(
        self, provider: str, message_id: str, status: str, now: datetime
    ) -> list[StatusChange]: ...

    def time_out_unreceipted(
        self, before: datetime, now: datetime, status: str
    ) -> list[StatusChange]:
        """Accepted before ``before`` and no receipt since: ``status``, final."""
        ...

    def purge_personal_data(self, before: datetime, now: datetime, limit: int = 5000) -> int:
        """Empty recipient, content and personalisation of up to ``limit`` final
        notifications created before ``before``; how many."""
        ...


class BulkSendStore(Protocol):
    def add(self, bulk: BulkSend) -> None: ...

    def get(self, tenant: str, bulk_id: str) -> BulkSend | None:
        """Without its counts (``NotificationStore.status_counts``)."""
        ...


class DailyCountStore(Protocol):
    """Sends per agency, channel and UTC day, shared by every replica."""

    def take(self, tenant: str, channel: str, day: date, count: int, limit: int) -> bool:
        """Add ``count`` if the day stays within ``limit``; False (nothing added) if not."""
        ...

    def used(self, tenant: str, channel: str, day: date) -> int: ...


class AgencySettingsStore(Protocol):
    def get(self, tenant: str) -> Stored | None: ...

    def put(self, tenant: str, settings: Stored, now: datetime) -> None: ...


class CallbackStore(Protocol):
    """Each agency's status callback (one at most)."""

    def replace(
        self, tenant: str, callback_id: str, url: str, secret: str, now: datetime
    ) -> None: ...

    def get(self, tenant: str) -> Callback | None: ...

    def with_secret(self, tenant: str, callback_id: str) -> Callback | None:
        """The agency's callback ``callback_id`` with its signing secret, if it is
        still the registered one."""
        ...

    def delete(self, tenant: str) -> None: ...


class StatusHistory(Protocol):
    """Every status change of a notification after it was created, kept for its
    history (``ListNotificationEvents``); written with the change itself."""

    def record(self, changes: Sequence[StatusChange], now: datetime) -> None: ...

    def of(self, tenant: str, notification_id: str) -> list[tuple[str, datetime]]:
        """The notification's recorded changes (status, time), oldest first."""
        ...


class CallbackOutbox(Protocol):
    def emit(self, changes: Sequence[StatusChange], now: datetime) -> int:
        """Enqueue one signed POST per change of an agency that registered a
        callback (sent after the transaction commits); how many."""
        ...

    def send(self, tenant: str, callback: Outgoing, now: datetime) -> Queued | None:
        """Enqueue one signed POST of ``callback`` to the agency's registered
        callback URL; None if the agency has none registered."""
        ...


class NotifyKeys(IdempotencyStore, Protocol):
    def purge_expired(self, now: datetime) -> int: ...


class NotifyWork(Protocol):
    """One transaction's view of notify's data."""

    @property
    def templates(self) -> TemplateStore: ...

    @property
    def notifications(self) -> NotificationStore: ...

    @property
    def queue(self) -> DeliveryQueue: ...

    @property
    def bulk_sends(self) -> BulkSendStore: ...

    @property
    def daily_counts(self) -> DailyCountStore: ...

    @property
    def agency_settings(self) -> AgencySettingsStore: ...

    @property
    def callbacks(self) -> CallbackStore: ...

    @property
    def outbox(self) -> CallbackOutbox: ...

    @property
    def history(self) -> StatusHistory: ...

    @property
    def idempotency(self) -> NotifyKeys: ...

    def lock(self, name: str) -> None:
        """Hold ``name`` across replicas until the transaction ends (one runs at a time)."""
        ...


NotifyTransactions = Transactions[NotifyWork]


class SendWriter(Protocol):
    """Writes checked single sends, each in a transaction of its own or together
    with concurrent callers' (group commit): its template still at the version it
    was rendered with, its idempotency key claimed with its response, its daily
    counter taken, its notification stored, all at once or not at all."""

    def write(self, send: NewSend) -> SendOutcome:
        """``written``; ``stale`` (a newer template version: nothing written); or
        ``taken`` (nothing written: its key was seen before, or its daily counter is
        full, or the write failed), for the caller to write alone, which tells these apart."""
        ...


class SettingsLookup(Protocol):
    def stored(self, tenant: str) -> Stored | None:
        """The agency's stored settings, read afresh outside any transaction
        (every SMS send reads them, so an update applies at once everywhere)."""
        ...
