"""SQL repositories: rows in, domain objects out. Every query filters by tenant
except the few the hosted page and provider webhooks need (they arrive without
an agency and find a payment by an id or reference they were given)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from services.payments.adapters import tables as t
from services.payments.domain import ledger
from services.payments.domain.cards import CardSummary
from services.payments.domain.payments import Failure, HoldClaim, Payment, State
from services.payments.domain.refunds import Refund, RefundState
from services.runtime import sealing


def _locking(session: Session, query: sa.Select[Any]) -> sa.Select[Any]:
    # PostgreSQL: a row lock serialises operations on one payment across
    # replicas. SQLite: BEGIN IMMEDIATE already holds the database's write lock.
    if session.get_bind().dialect.name == "postgresql":
        return query.with_for_update()
    return query


def payment_from_row(row: Any) -> Payment:
    card = None
    if row.card_last_four:
        card = CardSummary(
            brand=row.card_brand or "",
            last_four=row.card_last_four,
            expiry=row.card_expiry or "",
            cardholder_name=row.cardholder_name or "",
        )
    return Payment(
        id=row.id,
        tenant=row.tenant,
        amount=row.amount,
        currency=row.currency,
        reference=row.reference,
        description=row.description,
        return_url=row.return_url,
        email=row.email,
        language=row.language,
        metadata=dict(row.metadata),
        delayed_capture=row.delayed_capture,
        state=State(row.state),
        provider=row.provider,
        created_at=row.created_at,
        updated_at=row.updated_at,
        agency_name=row.agency_name,
        failure=Failure(row.failure) if row.failure else None,
        provider_ref=row.provider_ref,
        card=card,
        captured_amount=row.captured_amount,
        refunded_amount=row.refunded_amount,
        authorised_at=row.authorised_at,
        captured_at=row.captured_at,
        hold_claim=HoldClaim(row.hold_claim) if row.hold_claim else None,
        late_hold_ref=row.late_hold_ref or "",
    )


def _payment_values(p: Payment) -> dict[str, Any]:
    return {
        "id": p.id,
        "tenant": p.tenant,
        "amount": p.amount,
        "currency": p.currency,
        "reference": p.reference,
        "description": p.description,
        "return_url": p.return_url,
        "email": p.email,
        "language": p.language,
        "metadata": dict(p.metadata),
        "delayed_capture": p.delayed_capture,
        "state": p.state.value,
        "agency_name": p.agency_name,
        "failure": p.failure.value if p.failure else None,
        "provider": p.provider,
        "provider_ref": p.provider_ref,
        "card_brand": p.card.brand if p.card else None,
        "card_last_four": p.card.last_four if p.card else None,
        "card_expiry": p.card.expiry if p.card else None,
        "cardholder_name": p.card.cardholder_name if p.card else None,
        "captured_amount": p.captured_amount,
        "refunded_amount": p.refunded_amount,
        "created_at": p.created_at,
        "updated_at": p.updated_at,
        "authorised_at": p.authorised_at,
        "captured_at": p.captured_at,
        "hold_claim": p.hold_claim.value if p.hold_claim else None,
        "late_hold_ref": p.late_hold_ref or None,
    }


@dataclass(frozen=True)
class PaymentFilter:
    reference: str = ""
    state: State | None = None
    email: str = ""
    created_after: datetime | None = None
    created_before: datetime | None = None


class Payments:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, payment: Payment) -> None:
        self.session.execute(t.payments.insert().values(**_payment_values(payment)))

    def save(self, payment: Payment) -> None:
        values = _payment_values(payment)
        del values["id"], values["tenant"], values["created_at"]
        self.session.execute(
            t.payments.update().where(t.payments.c.id == payment.id).values(**values)
        )

    def get(self, tenant: str, payment_id: str, *, lock: bool = False) -> Payment | None:
        query = sa.select(t.payments).where(
            t.payments.c.id == payment_id, t.payments.c.tenant == tenant
        )
        return self._one(query, lock)

    def references(self, tenant: str, payment_ids: Sequence[str]) -> dict[str, str]:
        """The agency's reference of each payment, in one query."""
        c = t.payments.c
        rows = self.session.execute(
            sa.select(c.id, c.reference).where(c.tenant == tenant, c.id.in_(set(payment_ids)))
        )
        return {r.id: r.reference for r in rows}

    def get_by_id(self, payment_id: str, *, lock: bool = False) -> Payment | None:
        """For the citizen's page, which proves its right with a signed token."""
        return self._one(sa.select(t.payments).where(t.payments.c.id == payment_id), lock)

    def get_by_provider_ref(self, provider: str, ref: str, *, lock: bool = False) -> Payment | None:
        query = sa.select(t.payments).where(
            t.payments.c.provider_ref == ref, t.payments.c.provider == provider
        )
        return self._one(query, lock)

    def _one(self, query: sa.Select[Any], lock: bool) -> Payment | None:
        if lock:
            query = _locking(self.session, query)
        row = self.session.execute(query).first()
        return None if row is None else payment_from_row(row)

    def search(
        self, tenant: str, filters: PaymentFilter, *, before_id: str | None, limit: int
    ) -> list[Payment]:
        c = t.payments.c
        query = sa.select(t.payments).where(c.tenant == tenant)
        if before_id:
            query = query.where(c.id < before_id)
        if filters.reference:
            query = query.where(c.reference == filters.reference)
        if filters.state is not None:
            query = query.where(c.state == filters.state.value)
        if filters.email:
            query = query.where(c.email == filters.email)
        if filters.created_after is not None:
            query = query.where(c.created_at >= filters.created_after)
        if filters.created_before is not None:
            query = query.where(c.created_at < filters.created_before)
        rows = self.session.execute(query.order_by(c.id.desc()).limit(limit))
        return [payment_from_row(r) for r in rows]

    def due_for_page_expiry(self, created_before: datetime, limit: int) -> list[str]:
        c = t.payments.c
        query = (
            sa.select(c.id)
            .where(
                c.state.in_([State.CREATED.value, State.STARTED.value, State.SUBMITTED.value]),
                c.created_at <= created_before,
            )
            .limit(limit)
        )
        return list(self.session.scalars(query))

    def with_late_holds(self, limit: int) -> list[str]:
        """Payments holding an authorisation that landed after they stopped taking it."""
        c = t.payments.c
        query = sa.select(c.id).where(c.late_hold_ref.is_not(None)).limit(limit)
        return list(self.session.scalars(query))

    def due_for_capture_expiry(self, authorised_before: datetime, limit: int) -> list[str]:
        c = t.payments.c
        query = (
            sa.select(c.id)
            .where(c.state == State.CAPTURABLE.value, c.authorised_at <= authorised_before)
            .limit(limit)
        )
        return list(self.session.scalars(query))


@dataclass(frozen=True)
class EventRecord:
    payment_id: str
    type: str
    state: State
    at: datetime
    refund_id: str | None
    seq: int


class Events:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, payment: Payment, type_: str, at: datetime, refund_id: str | None = None) -> None:
        self.session.execute(
            t.payment_events.insert().values(
                tenant=payment.tenant,
                payment_id=payment.id,
                type=type_,
                state=payment.state.value,
                refund_id=refund_id,
                at=at,
            )
        )

    def page(self, payment_id: str, *, after_seq: int, limit: int) -> list[EventRecord]:
        c = t.payment_events.c
        rows = self.session.execute(
            sa.select(t.payment_events)
            .where(c.payment_id == payment_id, c.id > after_seq)
            .order_by(c.id)
            .limit(limit)
        )
        return [
            EventRecord(r.payment_id, r.type, State(r.state), r.at, r.refund_id, r.id) for r in rows
        ]


def refund_from_row(row: Any) -> Refund:
    return Refund(
        id=row.id,
        tenant=row.tenant,
        payment_id=row.payment_id,
        amount=row.amount,
        currency=row.currency,
        state=RefundState(row.state),
        created_at=row.created_at,
        updated_at=row.updated_at,
        provider_ref=row.provider_ref,
    )


class Refunds:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, refund: Refund) -> None:
        self.session.execute(
            t.refunds.insert().values(
                id=refund.id,
                tenant=refund.tenant,
                payment_id=refund.payment_id,
                amount=refund.amount,
                currency=refund.currency,
                state=refund.state.value,
                provider_ref=refund.provider_ref,
                created_at=refund.created_at,
                updated_at=refund.updated_at,
            )
        )

    def save(self, refund: Refund) -> None:
        self.session.execute(
            t.refunds.update()
            .where(t.refunds.c.id == refund.id)
            .values(
                state=refund.state.value,
                provider_ref=refund.provider_ref,
                updated_at=refund.updated_at,
            )
        )

    def get(self, tenant: str, refund_id: str) -> Refund | None:
        row = self.session.execute(
            sa.select(t.refunds).where(t.refunds.c.id == refund_id, t.refunds.c.tenant == tenant)
        ).first()
        return None if row is None else refund_from_row(row)

    def get_by_provider_ref(self, ref: str) -> Refund | None:
        row = self.session.execute(
            sa.select(t.refunds).where(t.refunds.c.provider_ref == ref)
        ).first()
        return None if row is None else refund_from_row(row)

    def of_payment(self, payment_id: str, *, after_id: str | None, limit: int) -> list[Refund]:
        c = t.refunds.c
        query = sa.select(t.refunds).where(c.payment_id == payment_id)
        if after_id:
            query = query.where(c.id > after_id)
        rows = self.session.execute(query.order_by(c.id).limit(limit))
        return [refund_from_row(r) for r in rows]


class Ledger:
    def __init__(self, session: Session) -> None:
        self.session = session

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
        self.session.execute(
            t.ledger_lines.insert(),
            [
                {
                    "tenant": tenant,
                    "payment_id": payment_id,
                    "refund_id": refund_id,
                    "kind": kind,
                    "account": line.account,
                    "amount": line.amount,
                    "currency": line.currency,
                    "created_at": at,
                }
                for line in lines
            ],
        )

    def agency_net(self, tenant: str, currency: str, start: datetime, end: datetime) -> int:
        """What the ledger says is owed to the agency for the range (credit balance)."""
        c = t.ledger_lines.c
        total = self.session.scalar(
            sa.select(sa.func.coalesce(sa.func.sum(c.amount), 0)).where(
                c.tenant == tenant,
                c.account == ledger.agency_account(tenant),
                c.currency == currency,
                c.created_at >= start,
                c.created_at < end,
            )
        )
        return -int(total or 0)

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
        """Up to ``limit`` entries in time order, from just after ``after`` (the
        time and id of the previous page's last)."""
        c = t.ledger_lines.c
        query = sa.select(c.id, c.kind, c.payment_id, c.refund_id, c.amount, c.created_at).where(
            c.tenant == tenant,
            c.account == ledger.agency_account(tenant),
            c.currency == currency,
            c.created_at >= start,
            c.created_at < end,
        )
        if after is not None:
            at, line_id = after
            query = query.where(
                sa.or_(c.created_at > at, sa.and_(c.created_at == at, c.id > line_id))
            )
        rows = self.session.execute(query.order_by(c.created_at, c.id).limit(limit))
        return [
            Movement(r.id, r.kind, r.payment_id, r.refund_id, -r.amount, r.created_at) for r in rows
        ]

    def totals(self, tenant: str, currency: str, start: datetime, end: datetime) -> dict[str, int]:
        """Money moved in the range by kind (``capture``, ``refund``), as positive sums."""
        c = t.ledger_lines.c
        rows = self.session.execute(
            sa.select(c.kind, sa.func.coalesce(sa.func.sum(c.amount), 0))
            .where(
                c.tenant == tenant,
                c.account == ledger.agency_account(tenant),
                c.currency == currency,
                c.created_at >= start,
                c.created_at < end,
            )
            .group_by(c.kind)
        )
        return {kind: abs(int(total)) for kind, total in rows}


@dataclass(frozen=True)
class Movement:
    """One ledger entry as the agency sees it: ``amount`` is what it owes them."""

    line_id: int
    kind: str
    payment_id: str
    refund_id: str | None
    amount: int
    at: datetime


@dataclass(frozen=True)
class Subscription:
    id: str
    tenant: str
    url: str
    event_types: tuple[str, ...]
    created_at: datetime
    disabled_at: datetime | None

    def wants(self, event_type: str) -> bool:
        return self.disabled_at is None and (not self.event_types or event_type in self.event_types)


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
