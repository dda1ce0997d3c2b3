"""notify's unit of work on one SQLAlchemy session (``NotifyWork``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from services.notify.adapters import tables
from services.notify.adapters.callbacks import StatusCallbacks
from services.notify.adapters.history import StatusHistoryRows
from services.notify.adapters.queue import Queue
from services.notify.adapters.repositories import (
    AgencySettingsRows,
    BulkSends,
    DailyCounts,
    Notifications,
    Templates,
)
from services.runtime import idempotency_sql
from services.runtime.db import advisory_lock
from services.runtime.sql_unit_of_work import SqlTransactions


class NotifyKeys(idempotency_sql.SqlIdempotencyKeys):
    def purge_expired(self, now: datetime) -> int:
        return idempotency_sql.purge_expired(self.session, self.table, now)


class SqlNotifyWork:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.templates = Templates(session)
        self.notifications = Notifications(session)
        self.queue = Queue(session)
        self.bulk_sends = BulkSends(session)
        self.daily_counts = DailyCounts(session)
        self.agency_settings = AgencySettingsRows(session)
        self.callbacks = self.outbox = StatusCallbacks(session)
        self.history = StatusHistoryRows(session)
        self.idempotency = NotifyKeys(session, tables.idempotency_keys)

    def lock(self, name: str) -> None:
        advisory_lock(self.session, name)


def transactions(sessions: sessionmaker[Session]) -> SqlTransactions[SqlNotifyWork]:
    return SqlTransactions(sessions, SqlNotifyWork)
