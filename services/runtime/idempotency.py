"""Idempotency keys for mutating calls (docs/architecture.md): the one path every service uses.

- ``keyed(method, request, tenant)`` checks the request's ``idempotency_key`` and
  fingerprints the rest of the request (``Keyed``).
- ``claim`` then ``complete`` on the unit of work's ``idempotency`` store
  (an ``IdempotencyStore``), inside the same transaction as the work itself
  (``run_once`` wraps the three in a unit of work):

      with uow() as tx:
          replay = tx.idempotency.claim(call)
          if replay is not None:
              return Response.FromString(replay)   # same key, same request
          ... do the work ...
          tx.idempotency.complete(call, response.SerializeToString())

- The stored response is always serialized protobuf: the reply message itself,
  or, for a call whose replay re-reads the resource as it is now (and must not
  keep a secret shown once, like a new agency's client secret), the resource's
  id as a ``StringValue`` (``id_response`` / ``replayed_id``).

The SQL store (``runtime/idempotency_sql.py``) inserts the key with ``ON CONFLICT``: on PostgreSQL a
second replica racing with the same key waits for the first transaction and then
sees its committed response; on SQLite the write lock serialises them. A key
reused with a different request raises ``AlreadyExists`` and changes nothing.
Keys are scoped per tenant (agency) and kept ``ttl`` (24 hours by default),
then purged by ``idempotency_sql.purge_expired``. This module holds the protocol
only, with no SQL, so use cases that follow it run on in-memory fakes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol, TypeVar

from google.protobuf.message import Message
from google.protobuf.wrappers_pb2 import StringValue

from services.runtime.errors import FieldViolation, InvalidArgument

DEFAULT_TTL = timedelta(hours=24)
MAX_KEY_LENGTH = 255
TABLE_NAME = "idempotency_keys"
KEY_FIELD = "idempotency_key"
T = TypeVar("T")


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


class IdempotencyStore(Protocol):
    """Where a unit of work keeps idempotency keys (one per service database)."""

    def claim(self, call: Keyed) -> bytes | None:
        """Claim the key in this transaction; the stored response on a replay.
        Raises ``AlreadyExists`` if the key was used with a different request."""
        ...

    def complete(self, call: Keyed, response: bytes) -> None:
        """Store the call's response (serialized protobuf) with its claimed key."""
        ...


class HasIdempotency(Protocol):
    """A unit of work (a transaction's repositories) that keeps idempotency keys."""

    @property
    def idempotency(self) -> IdempotencyStore: ...


U = TypeVar("U", bound=HasIdempotency)


def run_once(
    begin: Callable[[], AbstractContextManager[U]],
    call: Keyed,
    work: Callable[[U], T],
    encode: Callable[[T], bytes],
) -> T | Replay:
    """``work`` and the key's record in one unit of work (one effect per key)."""
    with begin() as uow:
        stored = uow.idempotency.claim(call)
        if stored is not None:
            return Replay(stored)
        result = work(uow)
        uow.idempotency.complete(call, encode(result))
        return result


def replay_or_raise(
    begin: Callable[[], AbstractContextManager[HasIdempotency]], call: Keyed, error: Exception
) -> Replay:
    """For a request refused by checks that may since have changed (a template
    edited, a limit reached): its first response if the key was used before with
    the same request, else ``error``."""
    with begin() as uow:
        stored = uow.idempotency.claim(call)
        if stored is None:
            raise error
        return Replay(stored)


def claim_id(store: IdempotencyStore, call: Keyed | None) -> str | None:
    """``claim`` for a call whose replay re-reads its resource: that resource's
    id on a replay. No key (``None``: a call from the command line) claims nothing."""
    if call is None:
        return None
    stored = store.claim(call)
    return None if stored is None else replayed_id(stored)


def complete_id(store: IdempotencyStore, call: Keyed | None, resource_id: str) -> None:
    if call is not None:
        store.complete(call, id_response(resource_id))
