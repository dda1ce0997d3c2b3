"""Agencies' webhook subscriptions and what was delivered to them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from services.payments.adapters import tables as t
from services.payments.adapters.repositories import Subscription, Subscriptions
from services.payments.domain import events
from services.payments.service_layer.payments import Clock
from services.runtime import urls, webhooks
from services.runtime.db import transaction
from services.runtime.db_types import utcnow
from services.runtime.egress import Egress
from services.runtime.errors import FieldViolation, InvalidArgument, NotFound
from services.runtime.idempotency import Keyed, claim_id, complete_id
from services.runtime.idempotency_sql import SqlIdempotencyKeys
from services.runtime.ids import new_id
from services.runtime.pagination import Page, PageRequest
from services.runtime.webhooks import Attempt, Delivery

MAX_SUBSCRIPTIONS = 20


@dataclass(frozen=True)
class DeliveryView:
    delivery: Delivery
    attempts: list[Attempt]


class WebhookSubscriptions:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        outbox: webhooks.Outbox,
        *,
        egress: Egress,
        clock: Clock = utcnow,
    ) -> None:
        self._sessions = sessions
        self._outbox = outbox
        self._egress = egress  # what a subscription's URL may point at
        self._clock = clock

    def create(
        self, tenant: str, url: str, event_types: list[str], keyed: Keyed
    ) -> tuple[Subscription, str]:
        violations = urls.target_violations("url", url, self._egress)
        unknown = sorted(set(event_types) - set(events.WEBHOOK_EVENTS))
        if unknown:
            violations.append(
                FieldViolation(
                    "event_types",
                    f"unknown {', '.join(unknown)}; use {', '.join(events.WEBHOOK_EVENTS)}",
                )
            )
        if violations:
            raise InvalidArgument.from_violations(violations)
        now = self._clock()
        with transaction(self._sessions) as session:
            repo = Subscriptions(session)
            replay = claim_id(SqlIdempotencyKeys(session, t.idempotency_keys), keyed)
            if replay is not None:
                found = repo.get(tenant, replay)
                if found is None:
                    raise NotFound("the subscription made with this key no longer exists")
                return found, repo.secret_for(found.id) or ""
            if len(repo.active(tenant)) >= MAX_SUBSCRIPTIONS:
                raise InvalidArgument.from_violations(
                    [FieldViolation("url", f"at most {MAX_SUBSCRIPTIONS} active subscriptions")]
                )
            sub = Subscription(
                new_id("whs"), tenant, url, tuple(sorted(set(event_types))), now, None
            )
            secret = webhooks.new_secret()
            repo.add(sub, secret)
            complete_id(SqlIdempotencyKeys(session, t.idempotency_keys), keyed, sub.id)
            return sub, secret

    def list(self, tenant: str, page: PageRequest) -> Page[Subscription]:
        with self._sessions() as session:
            found = Subscriptions(session).page(tenant, after_id=page.after, limit=page.size + 1)
        return Page.from_overfetch(found, page.size, lambda s: s.id)

    def disable(self, tenant: str, sub_id: str, keyed: Keyed) -> Subscription:
        with transaction(self._sessions) as session:
            repo = Subscriptions(session)
            if claim_id(SqlIdempotencyKeys(session, t.idempotency_keys), keyed) is None:
                if repo.get(tenant, sub_id) is None:
                    raise NotFound(f"no webhook subscription {sub_id!r}")
                repo.disable(tenant, sub_id, self._clock())
                complete_id(SqlIdempotencyKeys(session, t.idempotency_keys), keyed, sub_id)
            found = repo.get(tenant, sub_id)
            if found is None:
                raise NotFound(f"no webhook subscription {sub_id!r}")
            return found

    def deliveries(self, tenant: str, sub_id: str, page: PageRequest) -> Page[DeliveryView]:
        d = t.webhook_deliveries.c
        with self._sessions() as session:
            if Subscriptions(session).get(tenant, sub_id) is None:
                raise NotFound(f"no webhook subscription {sub_id!r}")
            query = sa.select(t.webhook_deliveries).where(
                d.subscription_id == sub_id, d.tenant == tenant
            )
            if page.after:
                # Delivery ids are random: page by (created_at, id), newest first.
                stamp, _, last_id = page.after.partition("|")
                try:
                    at = datetime.fromisoformat(stamp)
                except ValueError:
                    raise InvalidArgument.from_violations(
                        [FieldViolation("page_token", "not a token from a previous response")]
                    ) from None
                query = query.where(
                    sa.or_(d.created_at < at, sa.and_(d.created_at == at, d.id < last_id))
                )
            rows = session.execute(
                query.order_by(d.created_at.desc(), d.id.desc()).limit(page.size + 1)
            ).all()
            found = [
                DeliveryView(Delivery(**r._mapping), self._outbox.attempts_of(session, r.id))
                for r in rows
            ]
        return Page.from_overfetch(
            found, page.size, lambda v: f"{v.delivery.created_at.isoformat()}|{v.delivery.id}"
        )


def secret_lookup(session: Session, delivery: Delivery) -> str | None:
    """The outbox's ``secret_for``: the subscription's secret while it is active."""
    return Subscriptions(session).secret_for(delivery.subscription_id)
