"""Idempotency keys for mutating calls (DESIGN.md §3): the one path every service uses.

- ``keyed(method, request, tenant)`` checks the request's ``idempotency_key`` and
  fingerprints the rest of the request (``Keyed``).
- ``claim`` then ``complete``, inside the same transaction as the work itself
  (``run_once`` wraps the three in a transaction):

      with transaction(sessions) as session:
          replay = idempotency.claim(session, table, keyed)
          if replay is not None:
              return Response.FromString(replay)   # same key, same request
          ... do the work ...
          idempotency.complete(session, table, keyed, response.SerializeToString())

- The stored response is always serialized protobuf: the reply message itself,
  or, for a call whose replay re-reads the resource as it is now (and must not
  keep a secret shown once, like a new agency's client secret), the resource's
  id as a ``StringValue`` (``id_response`` / ``replayed_id``).

``claim`` inserts the key with ``ON CONFLICT DO NOTHING``: on PostgreSQL a
second replica racing with the same key waits for the first transaction and then
sees its committed response; on SQLite the write lock serialises them. A key
reused with a different request raises ``AlreadyExists`` and changes nothing.
Keys are scoped per tenant (agency) and kept ``ttl`` (24 hours by default),
then purged by ``purge_expired``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

import sqlalchemy as sa
from google.protobuf.message import Message
from google.protobuf.wrappers_pb2 import StringValue
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker

from services.runtime.db import transaction
from services.runtime.db_types import UtcDateTime, utcnow
from services.runtime.errors import AlreadyExists, FieldViolation, InvalidArgument

DEFAULT_TTL = timedelta(hours=24)
MAX_KEY_LENGTH = 255
TABLE_NAME = "idempotency_keys"
KEY_FIELD = "idempotency_key"
T = TypeVar("T")


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


def check_key(key: str, field: str = KEY_FIELD) -> str:
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise InvalidArgument.from_violations(
            [FieldViolation(field, f"required: 1 to {MAX_KEY_LENGTH} printable characters")]
        )
    return key


@dataclass(frozen=True)
class Keyed:
    """A call's idempotency key, scoped to the calling agency (``tenant``), and
    the fingerprint of the rest of its request."""

    tenant: str
    key: str
    fingerprint: str


def keyed(method: str, request: Message, tenant: str) -> Keyed:
    """The request's checked key and the fingerprint of everything else in it."""
    key = check_key(getattr(request, KEY_FIELD))
    rest = type(request)()
    rest.CopyFrom(request)
    rest.ClearField(KEY_FIELD)
    return Keyed(tenant, key, fingerprint(method, rest.SerializeToString(deterministic=True)))


@dataclass(frozen=True)
class Replay:
    """The stored response of an earlier call with the same key and request."""

    response: bytes


def claim(session: Session, table: sa.Table, call: Keyed) -> bytes | None:
    """Claim the key in this transaction; the stored response on a replay."""
    return IdempotencyKeys(session, table).claim(call.tenant, call.key, call.fingerprint)


def complete(session: Session, table: sa.Table, call: Keyed, response: bytes) -> None:
    """Store the call's response (serialized protobuf) with its claimed key."""
    IdempotencyKeys(session, table).complete(call.tenant, call.key, response)


def run_once(
    sessions: sessionmaker[Session],
    table: sa.Table,
    call: Keyed,
    work: Callable[[Session], T],
    encode: Callable[[T], bytes],
) -> T | Replay:
    """``work`` and the key's record in one transaction (one effect per key)."""
    with transaction(sessions) as session:
        stored = claim(session, table, call)
        if stored is not None:
            return Replay(stored)
        result = work(session)
        complete(session, table, call, encode(result))
        return result


def replay_or_raise(
    sessions: sessionmaker[Session], table: sa.Table, call: Keyed, error: Exception
) -> Replay:
    """For a request refused by checks that may since have changed (a template
    edited, a limit reached): its first response if the key was used before with
    the same request, else ``error``."""
    with transaction(sessions) as session:
        stored = claim(session, table, call)
        if stored is None:
            raise error
        return Replay(stored)


def id_response(resource_id: str) -> bytes:
    """The stored response of a call whose replay re-reads its resource."""
    return StringValue(value=resource_id).SerializeToString()


def replayed_id(stored: bytes) -> str:
    """The resource id in a stored response. Keys written before the single
    format (they live ``DEFAULT_TTL``) hold the bare id (identity) or a JSON
    object with one id (payments); a ``StringValue`` starts with its field's tag
    byte (0x0a), which neither an id nor JSON does."""
    if stored[:1] == b"\n":
        return StringValue.FromString(stored).value
    if stored[:1] == b"{":
        (legacy,) = json.loads(stored).values()
        return str(legacy)
    return stored.decode()


def claim_id(session: Session, table: sa.Table, call: Keyed | None) -> str | None:
    """``claim`` for a call whose replay re-reads its resource: that resource's
    id on a replay. No key (``None``: a call from the command line) claims nothing."""
    if call is None:
        return None
    stored = claim(session, table, call)
    return None if stored is None else replayed_id(stored)


def complete_id(session: Session, table: sa.Table, call: Keyed | None, resource_id: str) -> None:
    if call is not None:
        complete(session, table, call, id_response(resource_id))


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
