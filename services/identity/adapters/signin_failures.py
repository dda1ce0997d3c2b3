"""Counts of wrong passwords in identity's database (``signin_failures``), so
every replica counts together. One row per key; the row is locked from its
upsert to the end of the transaction (PostgreSQL's ``ON CONFLICT DO UPDATE``,
SQLite's single writer), so concurrent wrong passwords never lose a count."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from services.identity.adapters.tables import signin_failures as t


class SqlSigninFailures:
    """``SigninFailures`` on one session."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def standing(self, keys: Sequence[str], now: datetime) -> tuple[bool, bool]:
        # One read, so a correct password deletes only when there is something to forget.
        rows = self.session.execute(sa.select(t.c.locked_until).where(t.c.key.in_(keys))).all()
        return any(r.locked_until is not None and r.locked_until > now for r in rows), bool(rows)

    def locked_until(self, keys: Sequence[str], now: datetime) -> datetime | None:
        found: datetime | None = self.session.scalar(
            sa.select(sa.func.max(t.c.locked_until)).where(
                t.c.key.in_(keys), t.c.locked_until > now
            )
        )
        return found

    def failures(self, key: str) -> int:
        return int(self.session.scalar(sa.select(t.c.failures).where(t.c.key == key)) or 0)

    def add_one(self, key: str, address: str, expires_at: datetime) -> int:
        dialect = self.session.get_bind().dialect.name
        insert = postgresql.insert(t) if dialect == "postgresql" else sqlite.insert(t)
        statement = (
            insert.values(key=key, address=address, failures=1, expires_at=expires_at)
            .on_conflict_do_update(
                index_elements=[t.c.key],
                set_={"failures": t.c.failures + 1, "expires_at": expires_at},
            )
            .returning(t.c.failures)
        )
        return int(self.session.execute(statement).scalar_one()) - 1

    def settle(
        self, key: str, failures: int, locked: datetime | None, expires_at: datetime
    ) -> None:
        values: dict[str, object] = {"failures": failures, "expires_at": expires_at}
        if locked is not None:
            values["locked_until"] = locked
        self.session.execute(t.update().where(t.c.key == key).values(**values))

    def forget(self, keys: Sequence[str], now: datetime) -> None:
        self.session.execute(
            t.delete().where(
                t.c.key.in_(keys), sa.or_(t.c.locked_until.is_(None), t.c.locked_until <= now)
            )
        )

    def lift(self, address: str) -> int:
        deleted = self.session.execute(t.delete().where(t.c.address == address).returning(t.c.key))
        return len(deleted.all())

    def purge(self, now: datetime) -> int:
        deleted = self.session.execute(t.delete().where(t.c.expires_at < now).returning(t.c.key))
        return len(deleted.all())
