"""SQL repositories of a payment's history: its events, refunds and ledger lines."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from services.payments.adapters import tables as t
from services.payments.domain import ledger
from services.payments.domain.payments import Payment, State
from services.payments.domain.refunds import Refund, RefundState
from services.payments.domain.views import DayStats, EventRecord, Movement


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

    def get_by_id(self, refund_id: str) -> Refund | None:
        row = self.session.execute(sa.select(t.refunds).where(t.refunds.c.id == refund_id)).first()
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

    def unsent(self, created_before: datetime, limit: int) -> list[Refund]:
        c = t.refunds.c
        rows = self.session.execute(
            sa.select(t.refunds)
            .where(
                c.state == RefundState.SUBMITTED.value,
                c.provider_ref == "",
                c.created_at < created_before,
            )
            .limit(limit)
        )
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

    def day_stats(self, tenant: str, start: datetime, end: datetime) -> list[DayStats]:
        """One GROUP BY over the (tenant, created_at) index: the agency account's
        lines grouped by UTC day, currency and kind."""
        c = t.ledger_lines.c
        day = _utc_day(self.session, c.created_at).label("day")
        rows = self.session.execute(
            sa.select(day, c.currency, c.kind, sa.func.count(), sa.func.sum(c.amount))
            .where(
                c.tenant == tenant,
                c.account == ledger.agency_account(tenant),
                c.created_at >= start,
                c.created_at < end,
            )
            .group_by(day, c.currency, c.kind)
        )
        found: dict[tuple[str, str], dict[str, tuple[int, int]]] = {}
        for row_day, currency, kind, count, total in rows:
            found.setdefault((str(row_day), currency), {})[kind] = (int(count), abs(int(total)))
        return [
            DayStats(
                date.fromisoformat(key[0]),
                key[1],
                *kinds.get("capture", (0, 0)),
                *kinds.get("refund", (0, 0)),
            )
            for key, kinds in sorted(found.items())
        ]


def _utc_day(session: Session, column: sa.ColumnElement[Any]) -> sa.ColumnElement[str]:
    """The UTC day of a UtcDateTime column as YYYY-MM-DD: PostgreSQL's
    timestamptz is turned to UTC first; SQLite holds naive UTC text already."""
    if session.get_bind().dialect.name == "postgresql":
        return sa.func.to_char(sa.func.timezone("UTC", column), "YYYY-MM-DD")
    return sa.func.strftime("%Y-%m-%d", column)
