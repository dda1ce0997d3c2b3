"""SQL for payment links and the payments made through them."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.console.adapters.payment_link_tables import payment_link_payments, payment_links
from services.console.domain.payment_links import (
    Characters,
    LinkPayment,
    PaymentLink,
    ReferenceRule,
    State,
)


def _link(row: Any) -> PaymentLink:
    return PaymentLink(
        id=row.id,
        team_id=row.team_id,
        slug=row.slug,
        title=row.title,
        description=row.description,
        currency=row.currency,
        fixed_amount=row.fixed_amount,
        min_amount=row.min_amount,
        max_amount=row.max_amount,
        reference=ReferenceRule(
            row.reference_label,
            row.reference_required,
            row.reference_max_length,
            Characters(row.reference_characters),
        ),
        return_url=row.return_url,
        state=State(row.state),
        created_by=row.created_by,
        created_at=row.created_at,
    )


def _payment(row: Any) -> LinkPayment:
    return LinkPayment(row.payment_id, row.link_id, row.form_hash, row.created_at)


class PaymentLinks:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, link: PaymentLink) -> None:
        self._session.execute(
            payment_links.insert().values(
                id=link.id,
                team_id=link.team_id,
                slug=link.slug,
                title=link.title,
                description=link.description,
                currency=link.currency,
                fixed_amount=link.fixed_amount,
                min_amount=link.min_amount,
                max_amount=link.max_amount,
                reference_label=link.reference.label,
                reference_required=link.reference.required,
                reference_max_length=link.reference.max_length,
                reference_characters=link.reference.characters.value,
                return_url=link.return_url,
                state=link.state.value,
                created_by=link.created_by,
                created_at=link.created_at,
            )
        )

    def get(self, team_id: str, link_id: str) -> PaymentLink | None:
        row = self._session.execute(
            sa.select(payment_links).where(
                payment_links.c.id == link_id, payment_links.c.team_id == team_id
            )
        ).first()
        return _link(row) if row else None

    def by_slug(self, slug: str) -> PaymentLink | None:
        row = self._session.execute(
            sa.select(payment_links).where(payment_links.c.slug == slug)
        ).first()
        return _link(row) if row else None

    def set_state(self, link_id: str, state: State) -> None:
        self._session.execute(
            payment_links.update().where(payment_links.c.id == link_id).values(state=state.value)
        )

    def of_team(self, team_id: str, limit: int = 200) -> list[PaymentLink]:
        rows = self._session.execute(
            sa.select(payment_links)
            .where(payment_links.c.team_id == team_id)
            .order_by(payment_links.c.created_at.desc(), payment_links.c.id.desc())
            .limit(limit)
        )
        return [_link(row) for row in rows]

    def record_payment(self, payment: LinkPayment) -> None:
        """Once per payment: a second record of the same one (a double submit
        that payments answered with the same payment) changes nothing."""
        try:
            with self._session.begin_nested():
                self._session.execute(
                    payment_link_payments.insert().values(
                        payment_id=payment.payment_id,
                        link_id=payment.link_id,
                        form_hash=payment.form_hash,
                        created_at=payment.created_at,
                    )
                )
        except IntegrityError:
            pass

    def payment_by_form(self, link_id: str, form_hash: str) -> LinkPayment | None:
        row = self._session.execute(
            sa.select(payment_link_payments).where(
                payment_link_payments.c.form_hash == form_hash,
                payment_link_payments.c.link_id == link_id,
            )
        ).first()
        return _payment(row) if row else None

    def payments(self, link_id: str, limit: int = 50) -> list[LinkPayment]:
        rows = self._session.execute(
            sa.select(payment_link_payments)
            .where(payment_link_payments.c.link_id == link_id)
            .order_by(
                payment_link_payments.c.created_at.desc(),
                payment_link_payments.c.payment_id.desc(),
            )
            .limit(limit)
        )
        return [_payment(row) for row in rows]
