"""payments' unit of work on SQLAlchemy: one session's repositories, and the
PostgreSQL one-statement create and get (``direct.py``) behind the same port,
used whenever the database offers them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from services.payments.adapters import tables as t
from services.payments.adapters.direct import DirectPostgres
from services.payments.adapters.payments_sql import Payments
from services.payments.adapters.records_sql import Events, Ledger, Refunds
from services.payments.adapters.webhooks_sql import Deliveries, StripeEventLog, Subscriptions
from services.payments.domain.payments import Payment
from services.runtime import idempotency_sql
from services.runtime.idempotency import Keyed
from services.runtime.sql_unit_of_work import SqlTransactions


class SqlPaymentKeys(idempotency_sql.SqlIdempotencyKeys):
    def __init__(self, session: Session) -> None:
        super().__init__(session, t.idempotency_keys)

    def purge_expired(self, now: datetime) -> int:
        return idempotency_sql.purge_expired(self.session, self.table, now)


class SqlPaymentsWork:
    def __init__(self, session: Session) -> None:
        self.payments = Payments(session)
        self.events = Events(session)
        self.refunds = Refunds(session)
        self.ledger = Ledger(session)
        self.subscriptions = Subscriptions(session)
        self.deliveries = Deliveries(session)
        self.stripe_events = StripeEventLog(session)
        self.idempotency = SqlPaymentKeys(session)


class SqlPaymentsTransactions(SqlTransactions[SqlPaymentsWork]):
    """``direct``: the single-statement paths; where they are not enabled (SQLite)
    ``create_at_once`` declines and ``get_payment`` reads through a session."""

    def __init__(self, sessions: sessionmaker[Session], direct: DirectPostgres | None) -> None:
        super().__init__(sessions, SqlPaymentsWork)
        self._direct = direct if direct is not None and direct.enabled else None

    def create_at_once(self, payment: Payment, call: Keyed) -> bool:
        return self._direct is not None and self._direct.create_payment(payment, call)

    def get_payment(self, tenant: str, payment_id: str) -> Payment | None:
        if self._direct is not None:
            return self._direct.get_payment(tenant, payment_id)
        with self.read() as uow:
            return uow.payments.get(tenant, payment_id)
