"""The SQL store behind ``idempotency.IdempotencyStore``: the shared
``idempotency_keys`` table every service database has, claimed in one statement.

``claim`` inserts the key with ``ON CONFLICT ... DO UPDATE WHERE expired``: on
PostgreSQL a second replica racing with the same key waits for the first
transaction and then sees its committed response; on SQLite the write lock
serialises them.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from services.runtime.db_types import UtcDateTime, utcnow
from services.runtime.errors import AlreadyExists
from services.runtime.idempotency import DEFAULT_TTL, MAX_KEY_LENGTH, TABLE_NAME, Keyed

__all__ = ["TABLE_NAME", "SqlIdempotencyKeys", "create_table", "define_table", "purge_expired"]


def define_table(metadata: sa.MetaData) -> sa.Table:
    table = sa.Table(TABLE_NAME, metadata, *_columns(), *_constraints())
    sa.Index(f"ix_{TABLE_NAME}_expires_at", table.c.expires_at)
    return table


def create_table(op: Any) -> None:
    """For a service's Alembic migration: ``idempotency_sql.create_table(op)``."""
    op.create_table(TABLE_NAME, *_columns(), *_constraints())
    op.create_index(f"ix_{TABLE_NAME}_expires_at", TABLE_NAME, ["expires_at"])


def _columns() -> list[sa.Column[Any]]:
    return [
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("key", sa.String(MAX_KEY_LENGTH), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("response", sa.LargeBinary),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("expires_at", UtcDateTime, nullable=False, index=False),
    ]


def _constraints() -> list[sa.PrimaryKeyConstraint]:
    return [sa.PrimaryKeyConstraint("tenant", "key", name=f"pk_{TABLE_NAME}")]


class SqlIdempotencyKeys:
    """``IdempotencyStore`` on one open session (the unit of work's transaction)."""

    def __init__(self, session: Session, table: sa.Table, *, ttl: timedelta = DEFAULT_TTL) -> None:
        self.session = session
        self.table = table
        self.ttl = ttl

    def claim(self, call: Keyed) -> bytes | None:
        """Claim the call's key; if it was used before with the same request,
        return the stored response instead."""
        now = utcnow()
        t = self.table
        dialect = self.session.get_bind().dialect.name
        insert = sqlite_insert if dialect == "sqlite" else pg_insert
        # One statement: claim a free key, or take over an expired one.
        claim = insert(t).values(
            tenant=call.tenant,
            key=call.key,
            fingerprint=call.fingerprint,
            response=None,
            created_at=now,
            expires_at=now + self.ttl,
        )
        claimed = self.session.execute(
            claim.on_conflict_do_update(
                index_elements=[t.c.tenant, t.c.key],
                set_={
                    "fingerprint": claim.excluded.fingerprint,
                    "response": None,
                    "created_at": claim.excluded.created_at,
                    "expires_at": claim.excluded.expires_at,
                },
                where=t.c.expires_at <= now,
            ).returning(t.c.key)
        ).first()
        if claimed is not None:
            return None
        row = self.session.execute(
            sa.select(t.c.fingerprint, t.c.response).where(
                t.c.tenant == call.tenant, t.c.key == call.key
            )
        ).one()
        if row.fingerprint != call.fingerprint:
            raise AlreadyExists(
                "this idempotency key was already used with a different request; "
                "use a new key for a new request"
            )
        if row.response is None:  # only possible if a claim was committed without its work
            raise AlreadyExists("this idempotency key's first request did not complete")
        return bytes(row.response)

    def complete(self, call: Keyed, response: bytes) -> None:
        t = self.table
        self.session.execute(
            t.update()
            .where(t.c.tenant == call.tenant, t.c.key == call.key)
            .values(response=response)
        )


def purge_expired(session: Session, table: sa.Table, now: datetime | None = None) -> int:
    result = session.execute(
        table.delete().where(table.c.expires_at <= (now or utcnow())).returning(table.c.key)
    )
    return len(result.all())
