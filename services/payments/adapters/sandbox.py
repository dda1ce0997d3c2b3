"""The sandbox provider: a stateful stand-in for a card processor.

Magic card numbers (as GOV.UK Pay and Stripe use them): 4000 0000 0000 0002 is
declined, 4000 0000 0000 0069 has expired, 4000 0000 0000 0119 fails with a
provider error; 4242 4242 4242 4242 (and any other valid number) succeeds.

Its charges and the responses to its idempotency keys live in payments'
database, in transactions of their own, as a real provider's would: a call
repeated with the same key after a crash returns the first answer.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker

from services.payments.adapters import tables as t
from services.payments.domain.cards import Card
from services.payments.domain.providers import (
    Authorisation,
    Outcome,
    ProviderRefused,
    RefundResult,
)
from services.runtime.db import transaction
from services.runtime.db_types import utcnow
from services.runtime.ids import new_id

DECLINED = "4000000000000002"
EXPIRED = "4000000000000069"
PROVIDER_ERROR = "4000000000000119"
MAGIC_OUTCOMES = {
    DECLINED: Outcome.DECLINED,
    EXPIRED: Outcome.CARD_EXPIRED,
    PROVIDER_ERROR: Outcome.ERROR,
}


class SandboxProvider:
    name = "sandbox"

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def authorise(
        self, *, payment_id: str, amount: int, currency: str, card: Card, idempotency_key: str
    ) -> Authorisation:
        with transaction(self._sessions) as session:
            seen = _replay(session, idempotency_key)
            if seen is not None:
                return Authorisation(Outcome(seen["outcome"]), seen["reference"])
            outcome = MAGIC_OUTCOMES.get(card.number, Outcome.AUTHORISED)
            reference = ""
            if outcome is Outcome.AUTHORISED:
                reference = new_id("sbx")
                session.execute(
                    t.sandbox_charges.insert().values(
                        id=reference,
                        amount=amount,
                        captured=0,
                        refunded=0,
                        status="authorised",
                        created_at=utcnow(),
                    )
                )
            _remember(session, idempotency_key, {"outcome": outcome.value, "reference": reference})
            return Authorisation(outcome, reference)

    def capture(self, *, reference: str, amount: int, idempotency_key: str) -> None:
        with transaction(self._sessions) as session:
            if _replay(session, idempotency_key) is not None:
                return
            charge = _charge(session, reference)
            if charge.status != "authorised" or amount > charge.amount:
                raise ProviderRefused(f"sandbox charge is {charge.status}; cannot capture")
            _update(session, reference, status="captured", captured=amount)
            _remember(session, idempotency_key, {"captured": amount})

    def cancel(self, *, reference: str, idempotency_key: str) -> None:
        with transaction(self._sessions) as session:
            if _replay(session, idempotency_key) is not None:
                return
            charge = _charge(session, reference)
            if charge.status not in ("authorised", "cancelled"):
                raise ProviderRefused(f"sandbox charge is {charge.status}; cannot cancel")
            _update(session, reference, status="cancelled")
            _remember(session, idempotency_key, {"cancelled": True})

    def refund(
        self, *, reference: str, amount: int, refund_id: str, idempotency_key: str
    ) -> RefundResult:
        with transaction(self._sessions) as session:
            seen = _replay(session, idempotency_key)
            if seen is not None:
                return RefundResult(True, seen["reference"])
            charge = _charge(session, reference)
            if charge.status != "captured" or charge.refunded + amount > charge.captured:
                raise ProviderRefused("sandbox charge cannot be refunded by that much")
            _update(session, reference, refunded=charge.refunded + amount)
            ref = new_id("sbxre")
            _remember(session, idempotency_key, {"reference": ref})
            return RefundResult(True, ref)


def _replay(session: Session, key: str) -> dict[str, Any] | None:
    response = session.scalar(
        sa.select(t.sandbox_requests.c.response).where(t.sandbox_requests.c.key == key)
    )
    return None if response is None else dict(response)


def _remember(session: Session, key: str, response: dict[str, Any]) -> None:
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(
        insert(t.sandbox_requests)
        .values(key=key, response=response, created_at=utcnow())
        .on_conflict_do_nothing()
    )


def _charge(session: Session, reference: str) -> Any:
    query = sa.select(t.sandbox_charges).where(t.sandbox_charges.c.id == reference)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    row = session.execute(query).first()
    if row is None:
        raise ProviderRefused("no such sandbox charge")
    return row


def _update(session: Session, reference: str, **values: Any) -> None:
    session.execute(
        t.sandbox_charges.update().where(t.sandbox_charges.c.id == reference).values(**values)
    )
