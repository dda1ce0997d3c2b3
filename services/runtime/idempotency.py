"""Idempotency keys for mutating calls (DESIGN.md §3), shared by every service.

Inside the same transaction as the work itself:

    with transaction(sessions) as session:
        keys = IdempotencyKeys(session, table)
        replay = keys.claim(tenant, key, fingerprint)
        if replay is not None:
            return Response.FromString(replay)   # same key, same request
        ... do the work ...
        keys.complete(tenant, key, response.SerializeToString())

``claim`` inserts the key with ``ON CONFLICT DO NOTHING``: on PostgreSQL a
second replica racing with the same key waits for the first transaction and then
sees its committed response; on SQLite the write lock serialises them. A key
reused with a different request raises ``AlreadyExists`` and changes nothing.
Keys are scoped per tenant (agency) and kept ``ttl`` (24 hours by default),
then purged by ``purge_expired``.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from services.runtime.db_types import UtcDateTime, utcnow
from services.runtime.errors import AlreadyExists, FieldViolation, InvalidArgument

DEFAULT_TTL = timedelta(hours=24)
MAX_KEY_LENGTH = 255
TABLE_NAME = "idempotency_keys"


def define_table(metadata: sa.MetaData) -> sa.Table:
    table = sa.Table(TABLE_NAME, metadata, *_columns(), *_constraints())
    sa.Index(f"ix_{TABLE_NAME}_expires_at", table.c.expires_at)
    return table


def create_table(op: Any) -> None:
    """For a service's Alembic migration: ``idempotency.create_table(op)``."""
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


def fingerprint(operation: str, request: bytes) -> str:
    """What makes two requests "the same": the operation and its canonical bytes
    (protobuf ``SerializeToString(deterministic=True)`` without the key)."""
    return hashlib.sha256(operation.encode() + b"\0" + request).hexdigest()


def check_key(key: str, field: str = "idempotency_key") -> str:
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise InvalidArgument.from_violations(
            [FieldViolation(field, f"required: 1 to {MAX_KEY_LENGTH} printable characters")]
        )
    return key


class IdempotencyKeys:
    def __init__(self, session: Session, table: sa.Table, *, ttl: timedelta = DEFAULT_TTL) -> None:
        self.session = session
        self.table = table
        self.ttl = ttl

    def claim(self, tenant: str, key: str, request_fingerprint: str) -> bytes | None:
        """Claim ``key`` for this request; if it was used before with the same
        request, return the stored response instead."""
        now = utcnow()
        t = self.table
        dialect = self.session.get_bind().dialect.name
        insert = sqlite_insert if dialect == "sqlite" else pg_insert
        # One statement: claim a free key, or take over an expired one.
        claim = insert(t).values(
            tenant=tenant,
            key=key,
            fingerprint=request_fingerprint,
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
            sa.select(t.c.fingerprint, t.c.response).where(t.c.tenant == tenant, t.c.key == key)
        ).one()
        if row.fingerprint != request_fingerprint:
            raise AlreadyExists(
                "this idempotency key was already used with a different request; "
                "use a new key for a new request"
            )
        if row.response is None:  # only possible if a claim was committed without its work
            raise AlreadyExists("this idempotency key's first request did not complete")
        return bytes(row.response)

    def complete(self, tenant: str, key: str, response: bytes) -> None:
        t = self.table
        self.session.execute(
            t.update().where(t.c.tenant == tenant, t.c.key == key).values(response=response)
        )


def purge_expired(session: Session, table: sa.Table, now: datetime | None = None) -> int:
    result = session.execute(
        table.delete().where(table.c.expires_at <= (now or utcnow())).returning(table.c.key)
    )
    return len(result.all())
