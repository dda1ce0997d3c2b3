"""Delivery-status callbacks: registration, and one signed POST per status change.

Each change enqueues a row in the runtime's webhook outbox in the same
transaction as the change, so an accepted change always gets its callback; the
outbox signs it (``Gaap-Signature``) and retries network errors, 408, 429 and
5xx with backoff, never other 4xx.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from services.notify.adapters import tables
from services.runtime import urls, webhooks
from services.runtime.db import transaction
from services.runtime.db_types import utcnow
from services.runtime.egress import Egress
from services.runtime.errors import NotFound
from services.runtime.idempotency import Keyed, Replay, run_once
from services.runtime.idempotency_sql import session_work
from services.runtime.ids import new_id

EVENT_TYPE = "notification.status"
RETRY_POLICY = webhooks.RetryPolicy(
    delays=[timedelta(seconds=s) for s in (10, 60, 300, 1800, 3600, 3 * 3600, 6 * 3600)],
    retry_client_errors=False,
)
t = tables.status_callbacks


@dataclass(frozen=True)
class Callback:
    url: str
    created_at: datetime
    signing_secret: str = ""  # only when just created


class CallbackService:
    def __init__(self, sessions: sessionmaker[Session], egress: Egress) -> None:
        self._sessions = sessions
        self._keyed_work = session_work(sessions, tables.idempotency_keys)
        self._egress = egress  # what a callback URL may point at

    def set(
        self, tenant: str, url: str, call: Keyed, encode: Callable[[Callback], bytes]
    ) -> Callback | Replay:
        urls.require_target("url", url, self._egress)

        def work(session: Session) -> Callback:
            now = utcnow()
            secret = webhooks.new_secret()
            session.execute(t.delete().where(t.c.tenant == tenant))
            session.execute(
                t.insert().values(
                    tenant=tenant, id=new_id("cb"), url=url, secret=secret, created_at=now
                )
            )
            return Callback(url, now, secret)

        return run_once(self._keyed_work, call, lambda w: work(w.session), encode)

    def get(self, tenant: str) -> Callback:
        with transaction(self._sessions) as session:
            row = session.execute(sa.select(t).where(t.c.tenant == tenant)).first()
        if row is None:
            raise NotFound("no status callback is registered")
        return Callback(row.url, row.created_at)

    def delete(self, tenant: str, call: Keyed, encode: Callable[[bool], bytes]) -> bool | Replay:
        def work(session: Session) -> bool:
            session.execute(t.delete().where(t.c.tenant == tenant))
            return True

        return run_once(self._keyed_work, call, lambda w: work(w.session), encode)


def secret_for(session: Session, delivery: webhooks.Delivery) -> str | None:
    """The current secret, if the callback the delivery was made for still exists."""
    row = session.execute(
        sa.select(t.c.secret).where(
            t.c.tenant == delivery.tenant, t.c.id == delivery.subscription_id
        )
    ).first()
    return row.secret if row is not None else None


def payload(row: Any, status: str, at: datetime) -> dict[str, Any]:
    """What an agency receives: no recipient or content (they stay in notify)."""

    def stamp(value: datetime | None) -> str | None:
        return value.isoformat().replace("+00:00", "Z") if value is not None else None

    return {
        "id": row["id"],
        "reference": row["reference"],
        "channel": row["channel"],
        "status": status,
        "template_id": row["template_id"],
        "template_version": row["template_version"],
        "created_at": stamp(row["created_at"]),
        "status_at": stamp(at),
    }


def emit(session: Session, changes: Iterable[tuple[dict[str, Any], str]], now: datetime) -> int:
    """Enqueue a callback for each (notification row, new status) of agencies that
    registered one. Returns how many were enqueued."""
    changes = list(changes)
    tenants = {row["tenant"] for row, _ in changes}
    if not tenants:
        return 0
    registered = {
        r.tenant: r
        for r in session.execute(
            sa.select(t.c.tenant, t.c.id, t.c.url).where(t.c.tenant.in_(tenants))
        )
    }
    count = 0
    for row, status in changes:
        callback = registered.get(row["tenant"])
        if callback is None:
            continue
        webhooks.Outbox.enqueue(
            session,
            tables.webhook_deliveries,
            tenant=row["tenant"],
            subscription_id=callback.id,
            url=callback.url,
            event_id=f"{row['id']}:{status}",
            event_type=EVENT_TYPE,
            payload=payload(row, status, now),
            now=now,
        )
        count += 1
    return count


def outbox(sessions: sessionmaker[Session], sender: webhooks.Sender) -> webhooks.Outbox:
    return webhooks.Outbox(
        sessions,
        tables.webhook_deliveries,
        tables.webhook_attempts,
        prepare=webhooks.signed_json(secret_for, "GaaP-Notify-Callbacks/1"),
        policy=RETRY_POLICY,
        sender=sender,
    )
