"""Agencies' webhook subscriptions and what was delivered to them: a test event
sent on request, and a past event sent again. Both are queued in the outbox like
every event (signed when sent, retried until 2xx), and only to the agency's own
subscriptions."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from services.payments.domain import events
from services.payments.domain.webhooks import MAX_SUBSCRIPTIONS, Delivery, Subscription
from services.payments.service_layer.unit_of_work import PaymentsWork
from services.runtime import urls
from services.runtime.clock import Clock, utcnow
from services.runtime.egress import Egress
from services.runtime.errors import FailedPrecondition, FieldViolation, InvalidArgument, NotFound
from services.runtime.idempotency import Keyed, claim_id, complete_id
from services.runtime.ids import new_id
from services.runtime.pagination import Page, PageRequest
from services.runtime.unit_of_work import Transactions


class WebhookSubscriptions:
    def __init__(
        self,
        uow: Transactions[PaymentsWork],
        *,
        egress: Egress,
        new_secret: Callable[[], str],
        clock: Clock = utcnow,
    ) -> None:
        self._uow = uow
        self._egress = egress  # what a subscription's URL may point at
        self._new_secret = new_secret  # a signing secret (shown once, on creation)
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
        with self._uow() as uow:
            repo = uow.subscriptions
            replay = claim_id(uow.idempotency, keyed)
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
            secret = self._new_secret()
            repo.add(sub, secret)
            complete_id(uow.idempotency, keyed, sub.id)
            return sub, secret

    def list(self, tenant: str, page: PageRequest) -> Page[Subscription]:
        with self._uow.read() as uow:
            found = uow.subscriptions.page(tenant, after_id=page.after, limit=page.size + 1)
        return Page.from_overfetch(found, page.size, lambda s: s.id)

    def disable(self, tenant: str, sub_id: str, keyed: Keyed) -> Subscription:
        with self._uow() as uow:
            repo = uow.subscriptions
            if claim_id(uow.idempotency, keyed) is None:
                if repo.get(tenant, sub_id) is None:
                    raise NotFound(f"no webhook subscription {sub_id!r}")
                repo.disable(tenant, sub_id, self._clock())
                complete_id(uow.idempotency, keyed, sub_id)
            found = repo.get(tenant, sub_id)
            if found is None:
                raise NotFound(f"no webhook subscription {sub_id!r}")
            return found

    def send_test(self, tenant: str, sub_id: str, keyed: Keyed) -> Delivery:
        """Queue a signed ``webhook.test`` event for one of the agency's active
        subscriptions, whatever event types it chose; the same key, the same delivery."""
        now = self._clock()
        with self._uow() as uow:
            made = claim_id(uow.idempotency, keyed)
            if made is None:
                sub = _active(uow, tenant, sub_id)
                event_id, body = events.test_event(sub.id, now)
                made = uow.deliveries.enqueue(
                    tenant=tenant,
                    subscription_id=sub.id,
                    url=sub.url,
                    event_id=event_id,
                    event_type=events.TEST,
                    payload=body,
                    now=now,
                )
                complete_id(uow.idempotency, keyed, made)
            return _delivery(uow, tenant, made)

    def redeliver(self, tenant: str, delivery_id: str, keyed: Keyed) -> Delivery:
        """Queue a past delivery's event again, as a new delivery to the same
        (still active) subscription: the same event id and body, signed with the
        subscription's secret when sent. The same key, the same new delivery."""
        now = self._clock()
        with self._uow() as uow:
            made = claim_id(uow.idempotency, keyed)
            if made is None:
                past = uow.deliveries.event_of(tenant, delivery_id)
                if past is None:
                    raise NotFound(f"no webhook delivery {delivery_id!r}")
                sub = _active(uow, tenant, past.subscription_id)
                made = uow.deliveries.enqueue(
                    tenant=tenant,
                    subscription_id=sub.id,
                    url=sub.url,
                    event_id=past.event_id,
                    event_type=past.event_type,
                    payload=past.payload,
                    now=now,
                )
                complete_id(uow.idempotency, keyed, made)
            return _delivery(uow, tenant, made)

    def deliveries(self, tenant: str, sub_id: str, page: PageRequest) -> Page[Delivery]:
        with self._uow.read() as uow:
            if uow.subscriptions.get(tenant, sub_id) is None:
                raise NotFound(f"no webhook subscription {sub_id!r}")
            before = _delivery_token(page.after)
            found = uow.deliveries.of_subscription(
                tenant, sub_id, before=before, limit=page.size + 1
            )
        return Page.from_overfetch(found, page.size, lambda d: f"{d.created_at.isoformat()}|{d.id}")


def _active(uow: PaymentsWork, tenant: str, sub_id: str) -> Subscription:
    found = uow.subscriptions.get(tenant, sub_id)
    if found is None:
        raise NotFound(f"no webhook subscription {sub_id!r}")
    if found.disabled_at is not None:
        raise FailedPrecondition(
            f"webhook subscription {sub_id!r} is disabled: nothing is sent to it"
        )
    return found


def _delivery(uow: PaymentsWork, tenant: str, delivery_id: str) -> Delivery:
    found = uow.deliveries.get(tenant, delivery_id)
    if found is None:  # a replayed key whose delivery is gone
        raise NotFound(f"no webhook delivery {delivery_id!r}")
    return found


def _delivery_token(after: str | None) -> tuple[datetime, str] | None:
    """Delivery ids are random: pages go by (created time, id), newest first."""
    if not after:
        return None
    stamp, _, last_id = after.partition("|")
    try:
        return datetime.fromisoformat(stamp), last_id
    except ValueError:
        raise InvalidArgument.from_violations(
            [FieldViolation("page_token", "not a token from a previous response")]
        ) from None
