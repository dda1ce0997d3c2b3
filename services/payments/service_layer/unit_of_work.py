"""What payments' use cases keep, as ports: one transaction's repositories
(``PaymentsWork``) and the transactions that open them (``PaymentsTransactions``).

The SQL implementation is in ``adapters/`` (wired by ``bootstrap.py``); the unit
tests run the use cases on in-memory fakes of the same Protocols
(``tests/fakes/payments.py``). Every query filters by tenant except the few the
hosted page, the sweeper and provider webhooks need (they arrive without an
agency and find a payment by an id or reference they were given).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from services.payments.domain import ledger
from services.payments.domain.payments import Payment
from services.payments.domain.refunds import Refund
from services.payments.domain.views import DayStats, EventRecord, Movement, PaymentFilter
from services.payments.domain.webhooks import Delivery, PastEvent, Subscription
from services.runtime.idempotency import IdempotencyStore, Keyed
from services.runtime.unit_of_work import Transactions


class PaymentRepository(Protocol):
    def add(self, payment: Payment) -> None: ...

    def save(self, payment: Payment) -> None: ...

    def get(self, tenant: str, payment_id: str, *, lock: bool = False) -> Payment | None:
        """``lock``: hold the payment until the transaction ends, so operations
        on one payment take turns across replicas."""
        ...

    def get_by_id(self, payment_id: str, *, lock: bool = False) -> Payment | None:
        """For the citizen's page (which proves its right with a signed token) and
        the sweeper."""
        ...

    def get_by_provider_ref(
        self, provider: str, ref: str, *, lock: bool = False
    ) -> Payment | None: ...

    def references(self, tenant: str, payment_ids: Sequence[str]) -> dict[str, str]:
        """The agency's reference of each payment, in one query."""
        ...

    def search(
        self, tenant: str, filters: PaymentFilter, *, before_id: str | None, limit: int
    ) -> list[Payment]:
        """Newest first (by id), from just before ``before_id``."""
        ...

    def due_for_page_expiry(self, created_before: datetime, limit: int) -> list[str]:
        """Ids of payments still on their page (created, started, submitted)
        created at or before ``created_before``."""
        ...

    def due_for_capture_expiry(self, authorised_before: datetime, limit: int) -> list[str]:
        """Ids of capturable payments authorised at or before ``authorised_before``."""
        ...

    def with_late_holds(self, limit: int) -> list[str]:
        """Ids of payments holding an authorisation that landed after they
        stopped taking it."""
        ...


class EventRepository(Protocol):
    def add(self, payment: Payment, type_: str, at: datetime, refund_id: str | None = None) -> None:
        """Record an event with the payment's state as it is now."""
        ...

    def page(self, payment_id: str, *, after_seq: int, limit: int) -> list[EventRecord]: ...


class RefundRepository(Protocol):
    def add(self, refund: Refund) -> None: ...

    def save(self, refund: Refund) -> None:
        """Store its state, provider reference and update time."""
        ...

    def get(self, tenant: str, refund_id: str) -> Refund | None: ...

    def get_by_id(self, refund_id: str) -> Refund | None:
        """For provider webhooks, which name the refund they were given."""
        ...

    def get_by_provider_ref(self, ref: str) -> Refund | None: ...

    def of_payment(self, payment_id: str, *, after_id: str | None, limit: int) -> list[Refund]:
        """In id order, from just after ``after_id``."""
        ...

    def unsent(self, created_before: datetime, limit: int) -> list[Refund]:
        """Refunds reserved before ``created_before`` that the provider never
        acknowledged (submitted, no provider reference)."""
        ...


class LedgerRepository(Protocol):
    def post(
        self,
        lines: Sequence[ledger.Line],
        *,
        tenant: str,
        payment_id: str,
        refund_id: str | None,
        kind: str,
        at: datetime,
    ) -> None: ...

    def agency_net(self, tenant: str, currency: str, start: datetime, end: datetime) -> int:
        """What the ledger says is owed to the agency for the range (credit balance)."""
        ...

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
        """The agency account's entries in the range in (time, line id) order,
        from just after ``after`` (the previous page's last)."""
        ...

    def totals(self, tenant: str, currency: str, start: datetime, end: datetime) -> dict[str, int]:
        """Money moved in the range by kind (``capture``, ``refund``), as positive sums."""
        ...

    def day_stats(self, tenant: str, start: datetime, end: datetime) -> list[DayStats]:
        """Captures and refunds in the range per UTC day and currency (counts and
        positive sums), by day then currency; days with nothing left out."""
        ...


class SubscriptionRepository(Protocol):
    def add(self, sub: Subscription, secret: str) -> None: ...

    def get(self, tenant: str, sub_id: str) -> Subscription | None: ...

    def active(self, tenant: str) -> list[Subscription]: ...

    def page(self, tenant: str, *, after_id: str | None, limit: int) -> list[Subscription]: ...

    def disable(self, tenant: str, sub_id: str, at: datetime) -> None: ...

    def secret_for(self, sub_id: str) -> str | None:
        """The signing secret of an active subscription (None once disabled)."""
        ...


class DeliveryRepository(Protocol):
    """The webhook outbox: deliveries written in the change's own transaction,
    sent later by the outbox job."""

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
    ) -> str: ...

    def of_subscription(
        self, tenant: str, sub_id: str, *, before: tuple[datetime, str] | None, limit: int
    ) -> list[Delivery]:
        """Newest first by (created time, id), from just before ``before``."""
        ...

    def get(self, tenant: str, delivery_id: str) -> Delivery | None:
        """One of the tenant's deliveries, with its attempts."""
        ...

    def event_of(self, tenant: str, delivery_id: str) -> PastEvent | None:
        """The event one of the tenant's deliveries sent (its body as stored)."""
        ...


class StripeEventLog(Protocol):
    def first_time(self, event_id: str, event_type: str, at: datetime) -> bool:
        """Record a provider event id; False if it was recorded before."""
        ...


class PaymentKeys(IdempotencyStore, Protocol):
    def purge_expired(self, now: datetime) -> int:
        """Forget keys past their lifetime; how many."""
        ...


class PaymentsWork(Protocol):
    """One transaction's view of payments' data."""

    @property
    def payments(self) -> PaymentRepository: ...

    @property
    def events(self) -> EventRepository: ...

    @property
    def refunds(self) -> RefundRepository: ...

    @property
    def ledger(self) -> LedgerRepository: ...

    @property
    def subscriptions(self) -> SubscriptionRepository: ...

    @property
    def deliveries(self) -> DeliveryRepository: ...

    @property
    def stripe_events(self) -> StripeEventLog: ...

    @property
    def idempotency(self) -> PaymentKeys: ...


class PaymentsTransactions(Transactions[PaymentsWork], Protocol):
    """Units of work, and the two hottest calls in one step where the store has
    a way to (PostgreSQL: one statement each); elsewhere they say so and the
    use case takes its general path."""

    def create_at_once(self, payment: Payment, call: Keyed) -> bool:
        """Everything a new payment writes (the payment, its ``payment.created``
        event, the webhooks of the subscriptions that want it, and ``call``'s key
        with the payment's id as its response) in one atomic step. False, with
        nothing written, if the key is already there (a replay, a different
        request, a racing replica, an expired key) or the store has no such step:
        the general path then answers."""
        ...

    def get_payment(self, tenant: str, payment_id: str) -> Payment | None:
        """One payment, read outside any transaction."""
        ...
