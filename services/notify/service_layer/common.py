"""What the use cases share: idempotent transactions and ids."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from sqlalchemy.orm import Session, sessionmaker

from services.notify.adapters import tables
from services.runtime.db import transaction
from services.runtime.idempotency import IdempotencyKeys, check_key

T = TypeVar("T")


@dataclass(frozen=True)
class Replay:
    """The stored response of an earlier call with the same key and request."""

    response: bytes


@dataclass(frozen=True)
class Idempotent(Generic[T]):
    """An idempotent call: its key, its request's fingerprint, and how to store its result."""

    key: str
    fingerprint: str
    encode: Callable[[T], bytes]


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


def run_idempotent(
    sessions: sessionmaker[Session],
    tenant: str,
    call: Idempotent[T],
    work: Callable[[Session], T],
) -> T | Replay:
    """``work`` and the key's record in one transaction (one effect per key)."""
    check_key(call.key)
    with transaction(sessions) as session:
        keys = IdempotencyKeys(session, tables.idempotency_keys)
        stored = keys.claim(tenant, call.key, call.fingerprint)
        if stored is not None:
            return Replay(stored)
        result = work(session)
        keys.complete(tenant, call.key, call.encode(result))
        return result
