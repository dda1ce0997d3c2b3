"""payments' repositories, unit of work and provider in memory, with the SQL
adapters' rules (tenant scoping, orders, page boundaries), for the use-case
tests in tests/unit/payments/."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from services.payments.domain import events, ledger
from services.payments.domain.cards import Card
from services.payments.domain.payments import Payment, State
from services.payments.domain.providers import Authorisation, Outcome, RefundResult
from services.payments.domain.refunds import Refund, RefundState
from services.payments.domain.views import DayStats, EventRecord, Movement, PaymentFilter
from services.payments.domain.webhooks import Delivery, PastEvent, Subscription
from services.runtime.idempotency import Keyed, id_response
from tests.fakes.idempotency import MemoryIdempotencyKeys
from tests.fakes.transactions import FakeTransactions

ON_PAGE = (State.CREATED, State.STARTED, State.SUBMITTED)


@dataclass
class MemoryPayments:
    rows: dict[str, Payment] = field(default_factory=dict)

    def add(self, payment: Payment) -> None:
        assert payment.id not in self.rows, "payment ids are unique"
        self.rows[payment.id] = payment

    def save(self, payment: Payment) -> None:
        assert payment.id in self.rows, "only a stored payment is saved"
        self.rows[payment.id] = payment

    def get(self, tenant: str, payment_id: str, *, lock: bool = False) -> Payment | None:
        found = self.rows.get(payment_id)
        return found if found is not None and found.tenant == tenant else None

    def get_by_id(self, payment_id: str, *, lock: bool = False) -> Payment | None:
        return self.rows.get(payment_id)

    def get_by_provider_ref(self, provider: str, ref: str, *, lock: bool = False) -> Payment | None:
        return next(
            (p for p in self.rows.values() if p.provider == provider and p.provider_ref == ref),
            None,
        )

    def references(self, tenant: str, payment_ids: Sequence[str]) -> dict[str, str]:
        found = (self.get(tenant, i) for i in set(payment_ids))
        return {p.id: p.reference for p in found if p is not None}

    def search(
        self, tenant: str, filters: PaymentFilter, *, before_id: str | None, limit: int
    ) -> list[Payment]:
        def wanted(p: Payment) -> bool:
            return (
                p.tenant == tenant
                and (not before_id or p.id < before_id)
                and (not filters.reference or p.reference == filters.reference)
                and (filters.state is None or p.state is filters.state)
                and (not filters.email or p.email == filters.email)
                and (
                    not filters.card_last_four
                    or (p.card is not None and p.card.last_four == filters.card_last_four)
                )
                and (filters.created_after is None or p.created_at >= filters.created_after)
                and (filters.created_before is None or p.created_at < filters.created_before)
            )

        found = sorted(filter(wanted, self.rows.values()), key=lambda p: p.id, reverse=True)
        return found[:limit]

    def due_for_page_expiry(self, created_before: datetime, limit: int) -> list[str]:
        return [
            p.id
            for p in self.rows.values()
            if p.state in ON_PAGE and p.created_at <= created_before
        ][:limit]

    def due_for_capture_expiry(self, authorised_before: datetime, limit: int) -> list[str]:
        return [
            p.id
            for p in self.rows.values()
            if p.state is State.CAPTURABLE
            and p.authorised_at is not None
            and p.authorised_at <= authorised_before
        ][:limit]

    def with_late_holds(self, limit: int) -> list[str]:
        return [p.id for p in self.rows.values() if p.late_hold_ref][:limit]


@dataclass
class MemoryEvents:
    rows: list[EventRecord] = field(default_factory=list)

    def add(self, payment: Payment, type_: str, at: datetime, refund_id: str | None = None) -> None:
        seq = len(self.rows) + 1
        self.rows.append(EventRecord(payment.id, type_, payment.state, at, refund_id, seq))

    def page(self, payment_id: str, *, after_seq: int, limit: int) -> list[EventRecord]:
        return [e for e in self.rows if e.payment_id == payment_id and e.seq > after_seq][:limit]

    def types(self, payment_id: str) -> list[str]:
        """For the tests: a payment's event types in order."""
        return [e.type for e in self.rows if e.payment_id == payment_id]


@dataclass
class MemoryRefunds:
    rows: dict[str, Refund] = field(default_factory=dict)

    def add(self, refund: Refund) -> None:
        assert refund.id not in self.rows
        self.rows[refund.id] = refund

    def save(self, refund: Refund) -> None:
        stored = self.rows[refund.id]
        self.rows[refund.id] = replace(
            stored,
            state=refund.state,
            provider_ref=refund.provider_ref,
            updated_at=refund.updated_at,
        )

    def get(self, tenant: str, refund_id: str) -> Refund | None:
        found = self.rows.get(refund_id)
        return found if found is not None and found.tenant == tenant else None

    def get_by_id(self, refund_id: str) -> Refund | None:
        return self.rows.get(refund_id)

    def get_by_provider_ref(self, ref: str) -> Refund | None:
        return next((r for r in self.rows.values() if r.provider_ref == ref), None)

    def of_payment(self, payment_id: str, *, after_id: str | None, limit: int) -> list[Refund]:
        found = sorted(
            (
                r
                for r in self.rows.values()
                if r.payment_id == payment_id and (not after_id or r.id > after_id)
            ),
            key=lambda r: r.id,
        )
        return found[:limit]

    def unsent(self, created_before: datetime, limit: int) -> list[Refund]:
        return [
            r
            for r in self.rows.values()
            if r.state is RefundState.SUBMITTED
            and not r.provider_ref
            and r.created_at < created_before
        ][:limit]


@dataclass(frozen=True)
class LedgerRow:
    id: int
    tenant: str
    payment_id: str
    refund_id: str | None
    kind: str
    account: str
    amount: int
    currency: str
    at: datetime


@dataclass
class MemoryLedger:
    rows: list[LedgerRow] = field(default_factory=list)

    def post(
        self,
        lines: Sequence[ledger.Line],
        *,
        tenant: str,
        payment_id: str,
        refund_id: str | None,
        kind: str,
        at: datetime,
    ) -> None:
        for line in lines:
            self.rows.append(
                LedgerRow(
                    len(self.rows) + 1,
                    tenant,
                    payment_id,
                    refund_id,
                    kind,
                    line.account,
                    line.amount,
                    line.currency,
                    at,
                )
            )

    def _agency(
        self, tenant: str, currency: str, start: datetime, end: datetime
    ) -> list[LedgerRow]:
        return [
            r
            for r in self.rows
            if r.tenant == tenant
            and r.account == ledger.agency_account(tenant)
            and r.currency == currency
            and start <= r.at < end
        ]

    def agency_net(self, tenant: str, currency: str, start: datetime, end: datetime) -> int:
        return -sum(r.amount for r in self._agency(tenant, currency, start, end))

    def movements(
        self,
        tenant: str,
        currency: str,
        start: datetime,
        end: datetime,
        *,
        after: tuple[datetime, int] | None,
        limit: int,
    ) -> list[Movement]:
        found = sorted(self._agency(tenant, currency, start, end), key=lambda r: (r.at, r.id))
        if after is not None:
            found = [r for r in found if (r.at, r.id) > after]
        return [
            Movement(r.id, r.kind, r.payment_id, r.refund_id, -r.amount, r.at)
            for r in found[:limit]
        ]

    def totals(self, tenant: str, currency: str, start: datetime, end: datetime) -> dict[str, int]:
        sums: dict[str, int] = {}
        for r in self._agency(tenant, currency, start, end):
            sums[r.kind] = sums.get(r.kind, 0) + r.amount
        return {kind: abs(total) for kind, total in sums.items()}

    def day_stats(self, tenant: str, start: datetime, end: datetime) -> list[DayStats]:
        found: dict[tuple[str, str], dict[str, tuple[int, int]]] = {}
        for r in self.rows:
            if r.tenant != tenant or r.account != ledger.agency_account(tenant):
                continue
            if not start <= r.at < end:
                continue
            kinds = found.setdefault((r.at.astimezone(UTC).date().isoformat(), r.currency), {})
            count, total = kinds.get(r.kind, (0, 0))
            kinds[r.kind] = (count + 1, total + abs(r.amount))
        return [
            DayStats(
                datetime.fromisoformat(day).date(),
                currency,
                *kinds.get("capture", (0, 0)),
                *kinds.get("refund", (0, 0)),
            )
            for (day, currency), kinds in sorted(found.items())
        ]

    def balanced(self) -> bool:
        """For the tests: every payment's lines sum to zero, per currency."""
        sums: dict[tuple[str, str], int] = {}
        for r in self.rows:
            sums[(r.payment_id, r.currency)] = sums.get((r.payment_id, r.currency), 0) + r.amount
        return all(total == 0 for total in sums.values())


@dataclass
class MemorySubscriptions:
    rows: dict[str, Subscription] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)

    def add(self, sub: Subscription, secret: str) -> None:
        self.rows[sub.id] = sub
        self.secrets[sub.id] = secret

    def get(self, tenant: str, sub_id: str) -> Subscription | None:
        found = self.rows.get(sub_id)
        return found if found is not None and found.tenant == tenant else None

    def active(self, tenant: str) -> list[Subscription]:
        return [s for s in self.rows.values() if s.tenant == tenant and s.disabled_at is None]

    def page(self, tenant: str, *, after_id: str | None, limit: int) -> list[Subscription]:
        found = sorted(
            (
                s
                for s in self.rows.values()
                if s.tenant == tenant and (not after_id or s.id > after_id)
            ),
            key=lambda s: s.id,
        )
        return found[:limit]

    def disable(self, tenant: str, sub_id: str, at: datetime) -> None:
        found = self.get(tenant, sub_id)
        if found is not None and found.disabled_at is None:
            self.rows[sub_id] = replace(found, disabled_at=at)

    def secret_for(self, sub_id: str) -> str | None:
        found = self.rows.get(sub_id)
        return None if found is None or found.disabled_at else self.secrets.get(sub_id)


@dataclass(frozen=True)
class Queued:
    """A delivery in the outbox, with its payload as the use case gave it."""

    id: str
    tenant: str
    subscription_id: str
    url: str
    event_id: str
    event_type: str
    payload: dict[str, Any]
    created_at: datetime


@dataclass
class MemoryDeliveries:
    rows: list[Queued] = field(default_factory=list)

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
        delivery_id = f"whd_{len(self.rows) + 1:04d}"
        self.rows.append(
            Queued(delivery_id, tenant, subscription_id, url, event_id, event_type, payload, now)
        )
        return delivery_id

    def of_subscription(
        self, tenant: str, sub_id: str, *, before: tuple[datetime, str] | None, limit: int
    ) -> list[Delivery]:
        found = sorted(
            (q for q in self.rows if q.tenant == tenant and q.subscription_id == sub_id),
            key=lambda q: (q.created_at, q.id),
            reverse=True,
        )
        if before is not None:
            found = [q for q in found if (q.created_at, q.id) < before]
        return [_delivery(q) for q in found[:limit]]

    def get(self, tenant: str, delivery_id: str) -> Delivery | None:
        found = self._queued(tenant, delivery_id)
        return None if found is None else _delivery(found)

    def event_of(self, tenant: str, delivery_id: str) -> PastEvent | None:
        found = self._queued(tenant, delivery_id)
        if found is None:
            return None
        # As the SQL adapter gives it: the stored JSON, read back.
        payload = json.loads(json.dumps(found.payload))
        return PastEvent(found.subscription_id, found.event_id, found.event_type, payload)

    def _queued(self, tenant: str, delivery_id: str) -> Queued | None:
        return next((q for q in self.rows if q.id == delivery_id and q.tenant == tenant), None)


def _delivery(q: Queued) -> Delivery:
    """The fake sends nothing: every delivery is still pending."""
    return Delivery(q.id, q.event_id, q.event_type, "pending", q.created_at, q.created_at, ())


@dataclass
class MemoryStripeEvents:
    seen: dict[str, str] = field(default_factory=dict)

    def first_time(self, event_id: str, event_type: str, at: datetime) -> bool:
        if event_id in self.seen:
            return False
        self.seen[event_id] = event_type
        return True


@dataclass
class MemoryPaymentKeys(MemoryIdempotencyKeys):
    purged_at: list[datetime] = field(default_factory=list)

    def purge_expired(self, now: datetime) -> int:
        self.purged_at.append(now)  # keys here never expire: nothing to forget
        return 0


@dataclass
class FakePaymentsWork:
    payments: MemoryPayments = field(default_factory=MemoryPayments)
    events: MemoryEvents = field(default_factory=MemoryEvents)
    refunds: MemoryRefunds = field(default_factory=MemoryRefunds)
    ledger: MemoryLedger = field(default_factory=MemoryLedger)
    subscriptions: MemorySubscriptions = field(default_factory=MemorySubscriptions)
    deliveries: MemoryDeliveries = field(default_factory=MemoryDeliveries)
    stripe_events: MemoryStripeEvents = field(default_factory=MemoryStripeEvents)
    idempotency: MemoryPaymentKeys = field(default_factory=MemoryPaymentKeys)


class FakePaymentsTransactions(FakeTransactions[FakePaymentsWork]):
    """``at_once``: offer the one-step create (as PostgreSQL does), else decline
    it (as SQLite does); ``created_at_once`` counts the creates it made."""

    def __init__(self, state: FakePaymentsWork | None = None, *, at_once: bool = False) -> None:
        super().__init__(state or FakePaymentsWork())
        self.at_once = at_once
        self.created_at_once = 0

    def create_at_once(self, payment: Payment, call: Keyed) -> bool:
        if not self.at_once:
            return False
        with self() as uow:
            if (call.tenant, call.key) in uow.idempotency.rows:
                return False
            uow.idempotency.rows[(call.tenant, call.key)] = (
                call.fingerprint,
                id_response(payment.id),
            )
            uow.payments.add(payment)
            uow.events.add(payment, events.CREATED, payment.created_at)
            event_id, body = events.webhook_event(payment, events.CREATED, payment.created_at)
            for sub in uow.subscriptions.active(payment.tenant):
                if sub.wants(events.CREATED):
                    uow.deliveries.enqueue(
                        tenant=payment.tenant,
                        subscription_id=sub.id,
                        url=sub.url,
                        event_id=event_id,
                        event_type=events.CREATED,
                        payload=body,
                        now=payment.created_at,
                    )
        self.created_at_once += 1
        return True

    def get_payment(self, tenant: str, payment_id: str) -> Payment | None:
        with self.read() as uow:
            return uow.payments.get(tenant, payment_id)


class FakeProvider:
    """A card provider that answers as told and records each call as
    ``(operation, idempotency key)``. ``fail[operation]`` is raised instead;
    ``meanwhile[operation]`` runs once just after it (another request, another
    replica's sweep) before the caller sees the answer."""

    def __init__(self, name: str = "sandbox") -> None:
        self.name = name
        self.outcome = Outcome.AUTHORISED
        self.refund_settles = True  # False: the refund is pending (a webhook settles it)
        self.fail: dict[str, Exception] = {}
        self.meanwhile: dict[str, Callable[[], object]] = {}
        self.calls: list[tuple[str, str]] = []

    def _call(self, operation: str, key: str) -> None:
        self.calls.append((operation, key))
        error = self.fail.get(operation)
        if error is not None:
            raise error
        then = self.meanwhile.pop(operation, None)
        if then is not None:
            then()

    def operations(self) -> list[str]:
        return [operation for operation, _ in self.calls]

    def authorise(
        self, *, payment_id: str, amount: int, currency: str, card: Card, idempotency_key: str
    ) -> Authorisation:
        self._call("authorise", idempotency_key)
        return Authorisation(self.outcome, f"ch_{payment_id}")

    def capture(self, *, reference: str, amount: int, idempotency_key: str) -> None:
        self._call("capture", idempotency_key)

    def cancel(self, *, reference: str, idempotency_key: str) -> None:
        self._call("cancel", idempotency_key)

    def refund(
        self, *, reference: str, amount: int, refund_id: str, idempotency_key: str
    ) -> RefundResult:
        self._call("refund", idempotency_key)
        return RefundResult(self.refund_settles, f"re_{refund_id}")
