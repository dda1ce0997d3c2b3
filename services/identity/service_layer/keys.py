"""identity's signing keys in use: created on first start, cached in memory.

The cache is short-lived (``refresh_seconds``) so that a rotation made by any
replica, or by ``gaap-admin``, is picked up by all of them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.serialization import load_pem_private_key
from sqlalchemy.orm import Session, sessionmaker

from services.identity.adapters.repositories import SqlKeyRepository
from services.identity.domain import signing_keys
from services.identity.domain.signing_keys import SigningKey
from services.runtime.db import advisory_lock, transaction
from services.runtime.db_types import utcnow


@dataclass(frozen=True)
class Signer:
    kid: str
    alg: str
    private_key: Any  # a cryptography private key object, parsed once


@dataclass(frozen=True)
class _Snapshot:
    loaded_at: float
    jwks: dict[str, Any]
    signer: Signer | None


class KeyStore:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        alg: str = "ES256",
        refresh_seconds: float = 30.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sessions = sessions
        self._alg = alg
        self._refresh_seconds = refresh_seconds
        self._clock = clock
        self._snapshot: _Snapshot | None = None
        self._lock = threading.Lock()
        self._parsed: dict[str, Any] = {}

    def ensure_signing_key(self) -> None:
        """Create the first key if no key signs now (safe when replicas start together)."""
        with transaction(self._sessions) as session:
            advisory_lock(session, "identity.signing_keys")
            repo = SqlKeyRepository(session)
            now = self._clock()
            if signing_keys.active_key(repo.all(), now) is None:
                repo.add(signing_keys.generate(self._alg, now))
        self.reload()

    def reload(self) -> None:
        with self._sessions() as session:
            keys = SqlKeyRepository(session).all()
        now = self._clock()
        active = signing_keys.active_key(keys, now)
        self._snapshot = _Snapshot(
            loaded_at=time.monotonic(),
            jwks=signing_keys.jwks(keys, now),
            signer=self._signer(active) if active else None,
        )

    def _signer(self, key: SigningKey) -> Signer:
        parsed = self._parsed.get(key.kid)
        if parsed is None:
            parsed = self._parsed[key.kid] = load_pem_private_key(key.private_pem, password=None)
        return Signer(kid=key.kid, alg=key.alg, private_key=parsed)

    def _current(self) -> _Snapshot:
        snapshot = self._snapshot
        if snapshot is None or time.monotonic() - snapshot.loaded_at > self._refresh_seconds:
            with self._lock:
                snapshot = self._snapshot
                if (
                    snapshot is None
                    or time.monotonic() - snapshot.loaded_at > self._refresh_seconds
                ):
                    self.reload()
                    snapshot = self._snapshot
        assert snapshot is not None
        return snapshot

    def signer(self) -> Signer:
        signer = self._current().signer
        if signer is None:
            self.ensure_signing_key()
            signer = self._current().signer
        assert signer is not None
        return signer

    def jwks(self) -> dict[str, Any]:
        return self._current().jwks
