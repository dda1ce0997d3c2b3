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


def locked_until(session: Session, keys: Sequence[str], now: datetime) -> datetime | None:
    """The latest lock in force on any of ``keys``, or None."""
    found: datetime | None = session.scalar(
        sa.select(sa.func.max(t.c.locked_until)).where(t.c.key.in_(keys), t.c.locked_until > now)
    )
    return found


def standing(session: Session, keys: Sequence[str], now: datetime) -> tuple[bool, bool]:
    """Whether a lock is in force on any of ``keys``, and whether any count exists
    (one read, so a correct password deletes only when there is something to forget)."""
    rows = session.execute(sa.select(t.c.locked_until).where(t.c.key.in_(keys))).all()
    return any(r.locked_until is not None and r.locked_until > now for r in rows), bool(rows)


def add_one(session: Session, key: str, address: str, expires_at: datetime) -> int:
    """One more wrong password under ``key``; returns the count before it."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert(t) if dialect == "postgresql" else sqlite.insert(t)
    statement = (
        insert.values(key=key, address=address, failures=1, expires_at=expires_at)
        .on_conflict_do_update(
            index_elements=[t.c.key],
            set_={"failures": t.c.failures + 1, "expires_at": expires_at},
        )
        .returning(t.c.failures)
    )
    return int(session.execute(statement).scalar_one()) - 1


def settle(
    session: Session, key: str, failures: int, locked: datetime | None, expires_at: datetime
) -> None:
    """Store the count after a wrong password (and the lock it started, if any)."""
    values: dict[str, object] = {"failures": failures, "expires_at": expires_at}
    if locked is not None:
        values["locked_until"] = locked
    session.execute(t.update().where(t.c.key == key).values(**values))


def forget(session: Session, keys: Sequence[str], now: datetime) -> None:
    """A correct password: the counts under ``keys`` start again (locks in force stay)."""
    session.execute(
        t.delete().where(
            t.c.key.in_(keys), sa.or_(t.c.locked_until.is_(None), t.c.locked_until <= now)
        )
    )


def failures(session: Session, key: str) -> int:
    return int(session.scalar(sa.select(t.c.failures).where(t.c.key == key)) or 0)


def lift(session: Session, address: str) -> int:
    """Every count and lock of one email address (an operator's unlock, a reset)."""
    return len(session.execute(t.delete().where(t.c.address == address).returning(t.c.key)).all())


def purge(session: Session, now: datetime) -> int:
    return len(session.execute(t.delete().where(t.c.expires_at < now).returning(t.c.key)).all())


class SqlSigninFailures:
    """``SigninFailures`` on one session."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def standing(self, keys: Sequence[str], now: datetime) -> tuple[bool, bool]:
        return standing(self.session, keys, now)

    def locked_until(self, keys: Sequence[str], now: datetime) -> datetime | None:
        return locked_until(self.session, keys, now)

    def failures(self, key: str) -> int:
        return failures(self.session, key)

    def add_one(self, key: str, address: str, expires_at: datetime) -> int:
        return add_one(self.session, key, address, expires_at)

    def settle(
        self, key: str, failures: int, locked: datetime | None, expires_at: datetime
    ) -> None:
        settle(self.session, key, failures, locked, expires_at)

    def forget(self, keys: Sequence[str], now: datetime) -> None:
        forget(self.session, keys, now)

    def lift(self, address: str) -> int:
        return lift(self.session, address)

    def purge(self, now: datetime) -> int:
        return purge(self.session, now)
