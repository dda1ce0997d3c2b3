"""notify's ports in memory: the unit of work's repositories (``FakeNotifyWork``,
run by ``FakeTransactions``), the send path's ``SendWriter`` and
``SettingsLookup``, and delivery providers that answer as told."""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from services.notify.domain import paging
from services.notify.domain.agency_settings import Stored
from services.notify.domain.bulk_sends import BulkSend
from services.notify.domain.callbacks import (
    EVENT_TYPE,
    Callback,
    Outgoing,
    Queued,
    StatusChange,
    payload,
)
from services.notify.domain.notifications import Notification
from services.notify.domain.providers import Accepted, EmailMessage, ProviderError, SmsMessage
from services.notify.domain.queue import Claimed, Outcome
from services.notify.domain.sends import (
    STALE,
    TAKEN,
    WRITTEN,
    NewRow,
    NewSend,
    SendOutcome,
    as_notification,
)
from services.notify.domain.statuses import CANCELLED, CREATED, FINAL, SENDING
from services.notify.domain.templates import Template
from tests.fakes.idempotency import MemoryIdempotencyKeys
from tests.fakes.transactions import FakeTransactions


@dataclass
class FakeTemplates:
    """Hands out a fresh ``Template`` on every read, as the SQL store does: a
    stored one handed out would be changed outside any transaction when its
    reader first renders it (``Template._by_tag`` is cached on the object), while
    another thread's transaction copies the state for its rollback."""

    versions: dict[str, list[Template]] = field(default_factory=dict)  # id -> versions in order
    locked: list[str] = field(default_factory=list)

    def add(self, template: Template) -> None:
        found = self.versions.setdefault(template.id, [])
        assert template.version == len(found) + 1
        found.append(replace(template))

    def get(
        self, tenant: str, template_id: str, version: int = 0, *, lock: bool = False
    ) -> Template | None:
        found = self.versions.get(template_id)
        if not found or found[0].tenant != tenant or version > len(found):
            return None
        if lock:
            self.locked.append(template_id)
        return replace(found[version - 1] if version else found[-1])

    def history(
        self, tenant: str, template_id: str, size: int, before: int | None
    ) -> list[Template]:
        found = self.versions_of(tenant, template_id)
        below = [t for t in reversed(found) if before is None or t.version < before]
        return [replace(t) for t in below[: size + 1]]

    def versions_of(self, tenant: str, template_id: str) -> list[Template]:
        found = self.versions.get(template_id, [])
        return found if found and found[0].tenant == tenant else []

    def list(
        self, tenant: str, size: int, after: str | None, channel: str | None
    ) -> list[Template]:
        latest = [replace(v[-1]) for v in self.versions.values() if v[0].tenant == tenant]
        latest = [t for t in latest if not channel or t.channel == channel]
        return _page(latest, size, after, lambda t: (t.created_at, t.id))

    def latest_versions(self, template_ids: Iterable[str]) -> dict[str, tuple[str, int]]:
        return {
            i: (self.versions[i][-1].tenant, self.versions[i][-1].version)
            for i in template_ids
            if i in self.versions
        }


def _page(items: list[Any], size: int, after: str | None, key: Any) -> list[Any]:
    ordered = sorted(items, key=key, reverse=True)
    if after:
        at, last_id = paging.after(after)
        ordered = [i for i in ordered if key(i) < (at, last_id)]
    return ordered[: size + 1]


@dataclass
class FakeNotifications:
    """``NotificationStore`` and ``DeliveryQueue``: one set of rows."""

    rows: dict[str, NewRow] = field(default_factory=dict)

    def add_many(self, rows: Sequence[NewRow]) -> None:
        for row in rows:
            assert row["id"] not in self.rows
            self.rows[row["id"]] = dict(row)

    def get(self, tenant: str, notification_id: str) -> Notification | None:
        row = self.rows.get(notification_id)
        return as_notification(row) if row is not None and row["tenant"] == tenant else None

    def cancel_unclaimed(
        self,
        tenant: str,
        now: datetime,
        *,
        notification_id: str | None = None,
        bulk_send_id: str | None = None,
    ) -> list[StatusChange]:
        changed = [
            r
            for r in self.rows.values()
            if r["tenant"] == tenant
            and r["status"] == CREATED
            and (
                r["id"] == notification_id
                if notification_id is not None
                else r["bulk_send_id"] == bulk_send_id
            )
        ]
        for r in changed:
            r.update(status=CANCELLED, completed_at=now, due_at=now)
        return [_change(r, CANCELLED) for r in changed]

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
        wanted = {
            "recipient": recipient,
            "status": status,
            "channel": channel,
            "template_id": template_id,
            "reference": reference,
            "bulk_send_id": bulk_send_id,
        }
        found = [
            as_notification(r)
            for r in self.rows.values()
            if r["tenant"] == tenant
            and all(r[k] == v for k, v in wanted.items() if v)
            and (created_after is None or r["created_at"] >= created_after)
            and (created_before is None or r["created_at"] < created_before)
        ]
        return _page(found, size, after, lambda n: (n.created_at, n.id))

    def day_counts(
        self, tenant: str, start: datetime, end: datetime
    ) -> dict[tuple[date, str, str], int]:
        counts: dict[tuple[date, str, str], int] = {}
        for r in self.rows.values():
            if r["tenant"] == tenant and start <= r["created_at"] < end:
                key = (r["created_at"].astimezone(UTC).date(), r["channel"], r["status"])
                counts[key] = counts.get(key, 0) + 1
        return counts

    def status_counts(self, bulk_send_id: str) -> dict[str, int]:
        counts: dict[str, int] = {}
        for r in self.rows.values():
            if r["bulk_send_id"] == bulk_send_id:
                counts[r["status"]] = counts.get(r["status"], 0) + 1
        return counts

    # -- the queue --------------------------------------------------------------------

    def claim(
        self, now: datetime, limit: int, lease: timedelta
    ) -> tuple[builtins.list[Claimed], builtins.list[StatusChange]]:
        due = sorted(
            (
                r
                for r in self.rows.values()
                if r["status"] in (CREATED, SENDING)
                and r["provider_message_id"] is None
                and r["due_at"] <= now
            ),
            key=lambda r: r["due_at"],
        )[:limit]
        changes = [_change(r, SENDING) for r in due if r["status"] == CREATED]
        for r in due:
            r.update(status=SENDING, due_at=now + lease, attempts=r["attempts"] + 1)
        return [_claimed(r) for r in due], changes

    def record(self, outcomes: Sequence[Outcome], now: datetime) -> builtins.list[StatusChange]:
        changes: builtins.list[StatusChange] = []
        for o in outcomes:
            r = self.rows.get(o.id)
            if r is None or r["status"] in FINAL:
                continue
            if o.provider_message_id is not None:
                if r["provider_message_id"] is not None:
                    continue
                r.update(provider=o.provider, provider_message_id=o.provider_message_id)
                r["sent_at"] = now
            if o.status is not None:
                r.update(status=o.status, completed_at=now)
                changes.append(_change(r, o.status))
            elif o.retry_at is not None:
                r["due_at"] = o.retry_at
        return changes

    def apply_receipt(
        self, provider: str, message_id: str, status: str, now: datetime
    ) -> builtins.list[StatusChange]:
        changed = [
            r
            for r in self.rows.values()
            if r["provider"] == provider
            and r["provider_message_id"] == message_id
            and r["status"] not in FINAL
        ]
        for r in changed:
            r.update(status=status, completed_at=now)
        return [_change(r, status) for r in changed]

    def time_out_unreceipted(
        self, before: datetime, now: datetime, status: str
    ) -> builtins.list[StatusChange]:
        changed = [
            r
            for r in self.rows.values()
            if r["status"] == SENDING
            and r["provider_message_id"] is not None
            and r["sent_at"] < before
        ]
        for r in changed:
            r.update(status=status, completed_at=now)
        return [_change(r, status) for r in changed]

    def purge_personal_data(self, before: datetime, now: datetime, limit: int = 5000) -> int:
        due = [
            r
            for r in self.rows.values()
            if r["purged_at"] is None and r["created_at"] < before and r["status"] in FINAL
        ][:limit]
        for r in due:
            r.update(recipient="", subject="", body="", personalisation={}, reply_to="")
            r["purged_at"] = now
        return len(due)


def _change(row: NewRow, status: str) -> StatusChange:
    return StatusChange(
        row["id"],
        row["tenant"],
        row["reference"],
        row["channel"],
        row["template_id"],
        row["template_version"],
        row["created_at"],
        status,
    )


def _claimed(r: NewRow) -> Claimed:
    return Claimed(
        r["id"],
        r["tenant"],
        r["mode"],
        r["channel"],
        r["recipient"],
        r["subject"],
        r["body"],
        r["personalisation"],
        r["template_id"],
        r["template_version"],
        r["language"],
        r["reply_to"],
        r["attempts"],
        r["first_due_at"],
        r["traceparent"],
    )


@dataclass
class FakeBulkSends:
    bulks: dict[str, BulkSend] = field(default_factory=dict)

    def add(self, bulk: BulkSend) -> None:
        self.bulks[bulk.id] = bulk

    def get(self, tenant: str, bulk_id: str) -> BulkSend | None:
        found = self.bulks.get(bulk_id)
        return found if found is not None and found.tenant == tenant else None


@dataclass
class FakeDailyCounts:
    counts: dict[tuple[str, str, date], int] = field(default_factory=dict)

    def take(self, tenant: str, channel: str, day: date, count: int, limit: int) -> bool:
        used = self.counts.get((tenant, channel, day), 0)
        if used + count > limit:
            return False
        self.counts[(tenant, channel, day)] = used + count
        return True

    def used(self, tenant: str, channel: str, day: date) -> int:
        return self.counts.get((tenant, channel, day), 0)


@dataclass
class FakeAgencySettings:
    stored: dict[str, Stored] = field(default_factory=dict)

    def get(self, tenant: str) -> Stored | None:
        return self.stored.get(tenant)

    def put(self, tenant: str, settings: Stored, now: datetime) -> None:
        self.stored[tenant] = settings


@dataclass(frozen=True)
class Registered:
    id: str
    url: str
    secret: str
    created_at: datetime


@dataclass(frozen=True)
class Emitted:
    url: str
    event_id: str
    payload: dict[str, Any]
    tenant: str = ""
    event_type: str = EVENT_TYPE
    delivery_id: str = ""


@dataclass
class FakeCallbacks:
    """``CallbackStore`` and ``CallbackOutbox``: the outbox keeps what it was given."""

    registered: dict[str, Registered] = field(default_factory=dict)
    emitted: list[Emitted] = field(default_factory=list)

    def replace(self, tenant: str, callback_id: str, url: str, secret: str, now: datetime) -> None:
        self.registered[tenant] = Registered(callback_id, url, secret, now)

    def get(self, tenant: str) -> Callback | None:
        found = self.registered.get(tenant)
        return None if found is None else Callback(found.url, found.created_at)

    def with_secret(self, tenant: str, callback_id: str) -> Callback | None:
        found = self.registered.get(tenant)
        if found is None or found.id != callback_id:
            return None
        return Callback(found.url, found.created_at, found.secret)

    def delete(self, tenant: str) -> None:
        self.registered.pop(tenant, None)

    def emit(self, changes: Sequence[StatusChange], now: datetime) -> int:
        count = 0
        for change in changes:
            callback = self.registered.get(change.tenant)
            if callback is not None:
                self.emitted.append(
                    Emitted(
                        callback.url,
                        change.event_id,
                        payload(change, now),
                        change.tenant,
                        delivery_id=f"whd_{len(self.emitted) + 1:04d}",
                    )
                )
                count += 1
        return count

    def send(self, tenant: str, callback: Outgoing, now: datetime) -> Queued | None:
        registered = self.registered.get(tenant)
        if registered is None:
            return None
        delivery_id = f"whd_{len(self.emitted) + 1:04d}"
        self.emitted.append(
            Emitted(
                registered.url,
                callback.event_id,
                callback.payload,
                tenant,
                callback.event_type,
                delivery_id,
            )
        )
        return Queued(delivery_id, callback.event_id, callback.event_type, now)


@dataclass
class FakeNotifyKeys(MemoryIdempotencyKeys):
    expired: set[tuple[str, str]] = field(default_factory=set)  # what the test says has expired

    def purge_expired(self, now: datetime) -> int:
        gone = [k for k in self.rows if k in self.expired]
        for k in gone:
            del self.rows[k]
        return len(gone)


@dataclass
class FakeStatusHistory:
    events: list[tuple[str, str, str, datetime]] = field(default_factory=list)

    def record(self, changes: Sequence[StatusChange], now: datetime) -> None:
        self.events += [(c.tenant, c.id, c.status, now) for c in changes]

    def of(self, tenant: str, notification_id: str) -> builtins.list[tuple[str, datetime]]:
        return [(s, at) for t, n, s, at in self.events if (t, n) == (tenant, notification_id)]


class FakeNotifyWork:
    def __init__(self) -> None:
        self.templates = FakeTemplates()
        self.notifications = FakeNotifications()
        self.queue = self.notifications
        self.bulk_sends = FakeBulkSends()
        self.daily_counts = FakeDailyCounts()
        self.agency_settings = FakeAgencySettings()
        self.callbacks = FakeCallbacks()
        self.outbox = self.callbacks
        self.history = FakeStatusHistory()
        self.idempotency = FakeNotifyKeys()
        self.locks: list[str] = []

    def lock(self, name: str) -> None:
        self.locks.append(name)


def fake_transactions() -> FakeTransactions[FakeNotifyWork]:
    return FakeTransactions(FakeNotifyWork())


class _Full(Exception):
    pass


class FakeSendWriter:
    """``SendWriter`` one send at a time, by the port's rules; ``refuse`` makes it
    leave every send to be written alone (as when a batch fails)."""

    def __init__(self, uow: FakeTransactions[FakeNotifyWork]) -> None:
        self._uow = uow
        self.refuse = False
        self.outcomes: list[SendOutcome] = []

    def write(self, send: NewSend) -> SendOutcome:
        outcome = TAKEN if self.refuse else self._write(send)
        self.outcomes.append(outcome)
        return outcome

    def _write(self, send: NewSend) -> SendOutcome:
        row = send.row
        tenant = row["tenant"]
        try:
            with self._uow() as uow:
                latest = uow.templates.latest_versions({row["template_id"]})
                if latest.get(row["template_id"]) != (tenant, row["template_version"]):
                    return STALE
                if (tenant, send.key) in uow.idempotency.rows:
                    return TAKEN
                day = row["created_at"].date()
                if not uow.daily_counts.take(tenant, row["channel"], day, 1, send.daily_limit):
                    raise _Full
                uow.idempotency.rows[(tenant, send.key)] = (send.fingerprint, send.response)
                uow.notifications.add_many([row])
                return WRITTEN
        except _Full:
            return TAKEN


class FakeSettingsLookup:
    def __init__(self, uow: FakeTransactions[FakeNotifyWork]) -> None:
        self._uow = uow

    def stored(self, tenant: str) -> Stored | None:
        with self._uow.read() as uow:
            return uow.agency_settings.get(tenant)


@dataclass
class FakeProvider:
    """An email and SMS provider: accepts unless ``errors`` holds what to raise next."""

    name: str = "fake"
    delivered: bool = True  # SMTP-like: accepted means delivered
    errors: list[ProviderError] = field(default_factory=list)
    emails: list[EmailMessage] = field(default_factory=list)
    texts: list[SmsMessage] = field(default_factory=list)

    async def send_email(self, *, message: EmailMessage) -> Accepted:
        if self.errors:
            raise self.errors.pop(0)
        self.emails.append(message)
        return Accepted(self.name, f"{self.name}-{message.notification_id}", self.delivered)

    async def send_sms(self, *, message: SmsMessage) -> Accepted:
        if self.errors:
            raise self.errors.pop(0)
        self.texts.append(message)
        return Accepted(self.name, f"{self.name}-{message.notification_id}", self.delivered)
