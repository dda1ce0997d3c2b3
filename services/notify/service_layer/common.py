"""What the use cases share: idempotent transactions and ids."""

from __future__ import annotations

import os
import threading
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


_ID_HEX = 32  # 128 random bits, as many as a uuid4's hex
_POOL_IDS = 128


class _RandomPool(threading.local):
    """Each thread's own stock of ``os.urandom`` hex: one system call per 128 ids
    rather than one per id (a notable part of a send on a virtual machine)."""

    forks = 0  # class-wide, bumped in a forked child: it must not reuse its parent's stock

    def __init__(self) -> None:
        self.hex = ""
        self.at = 0
        self.generation = -1

    def take(self) -> str:
        if self.at >= len(self.hex) or self.generation != _RandomPool.forks:
            self.hex = os.urandom(_POOL_IDS * _ID_HEX // 2).hex()
            self.at = 0
            self.generation = _RandomPool.forks
        piece = self.hex[self.at : self.at + _ID_HEX]
        self.at += _ID_HEX
        return piece

    @staticmethod
    def forked() -> None:
        _RandomPool.forks += 1


os.register_at_fork(after_in_child=_RandomPool.forked)
_pool = _RandomPool()


def new_id(prefix: str) -> str:
    """``prefix`` and 128 random bits in hex."""
    return f"{prefix}_{_pool.take()}"


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
