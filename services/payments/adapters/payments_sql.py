"""SQL repository of payments: rows in, domain objects out (``PaymentRepository``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from services.payments.adapters import tables as t
from services.payments.domain.cards import CardSummary
from services.payments.domain.payments import Failure, HoldClaim, Payment, State
from services.payments.domain.views import PaymentFilter


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
        if filters.card_last_four:
            query = query.where(c.card_last_four == filters.card_last_four)
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
