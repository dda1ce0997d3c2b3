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
    signers: dict[str, Signer]  # by algorithm


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

    def ensure_signing_key(self, alg: str | None = None) -> None:
        """Create a key for ``alg`` if none signs now (safe when replicas start together)."""
        alg = alg or self._alg
        with transaction(self._sessions) as session:
            advisory_lock(session, "identity.signing_keys")
            repo = SqlKeyRepository(session)
            now = self._clock()
            if signing_keys.active_key(repo.all(), now, alg) is None:
                repo.add(signing_keys.generate(alg, now))
        self.reload()

    def reload(self) -> None:
        with self._sessions() as session:
            keys = SqlKeyRepository(session).all()
        now = self._clock()
        signers = {}
        for alg in signing_keys.SIGNING_ALGORITHMS:
            active = signing_keys.active_key(keys, now, alg)
            if active is not None:
                signers[alg] = self._signer(active)
        self._snapshot = _Snapshot(
            loaded_at=time.monotonic(), jwks=signing_keys.jwks(keys, now), signers=signers
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

    def signer(self, alg: str | None = None) -> Signer:
        """The key that signs now with ``alg`` (the configured default if None)."""
        alg = alg or self._alg
        signer = self._current().signers.get(alg)
        if signer is None:
            self.ensure_signing_key(alg)
            signer = self._current().signers.get(alg)
        assert signer is not None
        return signer

    def jwks(self) -> dict[str, Any]:
        return self._current().jwks
