"""Status callbacks in SQL: each agency's registration, and the runtime's
webhook outbox that signs and sends them.

Signing secrets are sealed at rest with ``NOTIFY_KEY_ENCRYPTION_KEY`` when one is
set (``services.runtime.sealing``, bound to the callback's id); the outbox
unseals one to sign with it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from services.notify.adapters import tables
from services.notify.domain.callbacks import (
    EVENT_TYPE,
    Callback,
    Outgoing,
    Queued,
    StatusChange,
    payload,
)
from services.runtime import sealing, webhooks

RETRY_POLICY = webhooks.RetryPolicy(
    delays=[timedelta(seconds=s) for s in (10, 60, 300, 1800, 3600, 3 * 3600, 6 * 3600)],
    retry_client_errors=False,
)
t = tables.status_callbacks


class StatusCallbacks:
    """``CallbackStore`` and ``CallbackOutbox`` on one session."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def replace(self, tenant: str, callback_id: str, url: str, secret: str, now: datetime) -> None:
        self.session.execute(t.delete().where(t.c.tenant == tenant))
        self.session.execute(
            t.insert().values(
                tenant=tenant,
                id=callback_id,
                url=url,
                secret=sealing.of(self.session).seal_text(secret, callback_id),
                created_at=now,
            )
        )

    def get(self, tenant: str) -> Callback | None:
        row = self.session.execute(sa.select(t).where(t.c.tenant == tenant)).first()
        return None if row is None else Callback(row.url, row.created_at)

    def with_secret(self, tenant: str, callback_id: str) -> Callback | None:
        row = self.session.execute(
            sa.select(t).where(t.c.tenant == tenant, t.c.id == callback_id)
        ).first()
        if row is None:
            return None
        secret = sealing.of(self.session).unseal_text(row.secret, row.id)
        return Callback(row.url, row.created_at, secret)

    def delete(self, tenant: str) -> None:
        self.session.execute(t.delete().where(t.c.tenant == tenant))

    def emit(self, changes: Sequence[StatusChange], now: datetime) -> int:
        tenants = {change.tenant for change in changes}
        if not tenants:
            return 0
        registered = {
            r.tenant: r
            for r in self.session.execute(
                sa.select(t.c.tenant, t.c.id, t.c.url).where(t.c.tenant.in_(tenants))
            )
        }
        count = 0
        for change in changes:
            callback = registered.get(change.tenant)
            if callback is None:
                continue
            webhooks.Outbox.enqueue(
                self.session,
                tables.webhook_deliveries,
                tenant=change.tenant,
                subscription_id=callback.id,
                url=callback.url,
                event_id=change.event_id,
                event_type=EVENT_TYPE,
                payload=payload(change, now),
                now=now,
            )
            count += 1
        return count

    def send(self, tenant: str, callback: Outgoing, now: datetime) -> Queued | None:
        registered = self.session.execute(
            sa.select(t.c.id, t.c.url).where(t.c.tenant == tenant)
        ).first()
        if registered is None:
            return None
        delivery_id = webhooks.Outbox.enqueue(
            self.session,
            tables.webhook_deliveries,
            tenant=tenant,
            subscription_id=registered.id,
            url=registered.url,
            event_id=callback.event_id,
            event_type=callback.event_type,
            payload=callback.payload,
            now=now,
        )
        return Queued(delivery_id, callback.event_id, callback.event_type, now)


def secret_for(session: Session, delivery: webhooks.Delivery) -> str | None:
    """The current secret, if the callback the delivery was made for still exists."""
    row = session.execute(
        sa.select(t.c.id, t.c.secret).where(
            t.c.tenant == delivery.tenant, t.c.id == delivery.subscription_id
        )
    ).first()
    return None if row is None else sealing.of(session).unseal_text(row.secret, row.id)


def outbox(sessions: sessionmaker[Session], sender: webhooks.Sender) -> webhooks.Outbox:
    return webhooks.Outbox(
        sessions,
        tables.webhook_deliveries,
        tables.webhook_attempts,
        prepare=webhooks.signed_json(secret_for, "GaaP-Notify-Callbacks/1"),
        policy=RETRY_POLICY,
        sender=sender,
    )
