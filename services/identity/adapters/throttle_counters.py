"""Throttling counters in identity's database: one atomic upsert per event, so
replicas on the same database count together (SQLite and PostgreSQL both have
``INSERT ... ON CONFLICT DO UPDATE ... RETURNING``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from services.identity.adapters.tables import throttle_counters as t


class SqlThrottleCounters:
    """``ThrottleCounters`` on one session."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def increment(self, key: str, window_start: datetime, expires_at: datetime) -> int:
        dialect = self.session.get_bind().dialect.name
        insert = postgresql.insert(t) if dialect == "postgresql" else sqlite.insert(t)
        statement = (
            insert.values(key=key, window_start=window_start, count=1, expires_at=expires_at)
            .on_conflict_do_update(
                index_elements=[t.c.key, t.c.window_start], set_={"count": t.c.count + 1}
            )
            .returning(t.c.count)
        )
        return int(self.session.execute(statement).scalar_one())

    def purge(self, now: datetime) -> int:
        deleted = self.session.execute(t.delete().where(t.c.expires_at < now).returning(t.c.key))
        return len(deleted.all())
