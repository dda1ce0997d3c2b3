"""SQL repositories of agencies' webhooks (subscriptions, the delivery outbox)
and of the Stripe events already applied."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from services.payments.adapters import tables as t
from services.payments.domain.webhooks import Delivery, DeliveryAttempt, PastEvent, Subscription
from services.runtime import sealing, webhooks


def _subscription(row: Any) -> Subscription:
    return Subscription(
        row.id, row.tenant, row.url, tuple(row.event_types), row.created_at, row.disabled_at
    )


class Subscriptions:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, sub: Subscription, secret: str) -> None:
        self.session.execute(
            t.webhook_subscriptions.insert().values(
                id=sub.id,
                tenant=sub.tenant,
                url=sub.url,
                event_types=list(sub.event_types),
                secret=sealing.of(self.session).seal_text(secret, sub.id),
                created_at=sub.created_at,
                disabled_at=None,
            )
        )

    def get(self, tenant: str, sub_id: str) -> Subscription | None:
        c = t.webhook_subscriptions.c
        row = self.session.execute(
            sa.select(t.webhook_subscriptions).where(c.id == sub_id, c.tenant == tenant)
        ).first()
        return None if row is None else _subscription(row)

    def active(self, tenant: str) -> list[Subscription]:
        c = t.webhook_subscriptions.c
        rows = self.session.execute(
            sa.select(t.webhook_subscriptions).where(c.tenant == tenant, c.disabled_at.is_(None))
        )
        return [_subscription(r) for r in rows]

    def page(self, tenant: str, *, after_id: str | None, limit: int) -> list[Subscription]:
        c = t.webhook_subscriptions.c
        query = sa.select(t.webhook_subscriptions).where(c.tenant == tenant)
        if after_id:
            query = query.where(c.id > after_id)
        return [_subscription(r) for r in self.session.execute(query.order_by(c.id).limit(limit))]

    def disable(self, tenant: str, sub_id: str, at: datetime) -> None:
        c = t.webhook_subscriptions.c
        self.session.execute(
            t.webhook_subscriptions.update()
            .where(c.id == sub_id, c.tenant == tenant, c.disabled_at.is_(None))
            .values(disabled_at=at)
        )

    def secret_for(self, sub_id: str) -> str | None:
        """The signing secret of an active subscription (None once disabled)."""
        c = t.webhook_subscriptions.c
        stored = self.session.scalar(
            sa.select(c.secret).where(c.id == sub_id, c.disabled_at.is_(None))
        )
        return None if stored is None else sealing.of(self.session).unseal_text(stored, sub_id)


def secret_lookup(session: Session, delivery: webhooks.Delivery) -> str | None:
    """The outbox's ``secret_for``: the subscription's secret while it is active."""
    return Subscriptions(session).secret_for(delivery.subscription_id)


class Deliveries:
    """The webhook outbox's rows (``services.runtime.webhooks``) for payments."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def enqueue(
        self,
        *,
        tenant: str,
        subscription_id: str,
        url: str,
        event_id: str,
        event_type: str,
        payload: dict[str, Any],
        now: datetime,
    ) -> str:
        return webhooks.Outbox.enqueue(
            self.session,
            t.webhook_deliveries,
            tenant=tenant,
            subscription_id=subscription_id,
            url=url,
            event_id=event_id,
            event_type=event_type,
            payload=payload,
            now=now,
        )

    def of_subscription(
        self, tenant: str, sub_id: str, *, before: tuple[datetime, str] | None, limit: int
    ) -> list[Delivery]:
        d = t.webhook_deliveries.c
        query = sa.select(t.webhook_deliveries).where(
            d.subscription_id == sub_id, d.tenant == tenant
        )
        if before is not None:
            at, last_id = before
            query = query.where(
                sa.or_(d.created_at < at, sa.and_(d.created_at == at, d.id < last_id))
            )
        rows = self.session.execute(
            query.order_by(d.created_at.desc(), d.id.desc()).limit(limit)
        ).all()
        return self._deliveries(rows)

    def get(self, tenant: str, delivery_id: str) -> Delivery | None:
        row = self._row(tenant, delivery_id)
        return None if row is None else self._deliveries([row])[0]

    def event_of(self, tenant: str, delivery_id: str) -> PastEvent | None:
        row = self._row(tenant, delivery_id)
        if row is None:
            return None
        return PastEvent(row.subscription_id, row.event_id, row.event_type, json.loads(row.body))

    def _row(self, tenant: str, delivery_id: str) -> Any:
        d = t.webhook_deliveries.c
        return self.session.execute(
            sa.select(t.webhook_deliveries).where(d.id == delivery_id, d.tenant == tenant)
        ).first()

    def _deliveries(self, rows: Sequence[Any]) -> list[Delivery]:
        attempts = self._attempts([r.id for r in rows])
        return [
            Delivery(
                id=r.id,
                event_id=r.event_id,
                event_type=r.event_type,
                state=r.state,
                created_at=r.created_at,
                next_attempt_at=r.next_attempt_at,
                attempts=tuple(attempts.get(r.id, ())),
            )
            for r in rows
        ]

    def _attempts(self, delivery_ids: list[str]) -> dict[str, list[DeliveryAttempt]]:
        if not delivery_ids:
            return {}
        a = t.webhook_attempts.c
        rows = self.session.execute(
            sa.select(t.webhook_attempts)
            .where(a.delivery_id.in_(delivery_ids))
            .order_by(a.attempted_at, a.id)
        )
        found: dict[str, list[DeliveryAttempt]] = {}
        for r in rows:
            found.setdefault(r.delivery_id, []).append(
                DeliveryAttempt(r.attempted_at, r.status_code, r.error, r.duration_ms)
            )
        return found


class StripeEventLog:
    """Stripe event ids already applied: a redelivered event is skipped."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def first_time(self, event_id: str, event_type: str, at: datetime) -> bool:
        dialect = self.session.get_bind().dialect.name
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        inserted = self.session.execute(
            insert(t.stripe_events)
            .values(id=event_id, type=event_type, received_at=at)
            .on_conflict_do_nothing()
            .returning(t.stripe_events.c.id)
        ).first()
        return inserted is not None
