"""identity's signing keys in use: created at start, rotated by operators,
cached in memory.

Every algorithm identity may sign with (the configured one and every ID-token
algorithm discovery advertises) gets its key at start, under a lock, before the
process serves anything: a key is in the JWKS before any token is signed with
it, and replicas starting together on one database create one key set. Nothing
creates a key on first use, when another replica's JWKS would not show it.

The cache is short-lived (``refresh_seconds``) so that a rotation made by any
replica, or by ``gaap-admin``, is picked up by all of them; it is also reloaded
as soon as a key's scheduled switch time passes, so no replica signs with a
retired key or waits to sign with an activated one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.serialization import load_pem_private_key
from joserfc.jwk import ECKey, RSAKey

from services.identity.domain import signing_keys
from services.identity.domain.audit import EventType
from services.identity.domain.signing_keys import Rotation, SigningKey
from services.identity.service_layer.token_ports import KeyWork
from services.runtime.clock import utcnow
from services.runtime.errors import FailedPrecondition
from services.runtime.unit_of_work import Transactions

# Verifiers accept a token up to this long after its ``exp`` (AccessTokenVerifier's
# leeway is 30 s; pyjwt users commonly allow a minute): a retired key stays
# published that much longer than its last token.
VERIFIER_LEEWAY = timedelta(seconds=60)
# CitizenTokens' ID-token lifetime (bootstrap keeps its default); back-channel
# logout tokens live 120 s. Both are signed by the same keys as access tokens.
ID_TOKEN_TTL_SECONDS = 300


def longest_token(access_token_ttl_seconds: int) -> timedelta:
    """The longest lifetime of any token identity signs."""
    return timedelta(seconds=max(access_token_ttl_seconds, ID_TOKEN_TTL_SECONDS))


@dataclass(frozen=True)
class Signer:
    kid: str
    alg: str
    private_key: Any  # a cryptography private key object, parsed once
    jwk: ECKey | RSAKey  # the same key for joserfc


@dataclass(frozen=True)
class KeyInfo:
    """A key as operators see it: never the private key."""

    kid: str
    alg: str
    status: str
    created_at: datetime
    activates_at: datetime
    retires_at: datetime | None
    expires_at: datetime | None


@dataclass(frozen=True)
class _Snapshot:
    loaded_at: float
    next_change: datetime | None
    jwks: dict[str, Any]
    signers: dict[str, Signer]  # by algorithm


class KeyStore:
    def __init__(
        self,
        uow: Transactions[KeyWork],
        *,
        alg: str = "ES256",
        refresh_seconds: float = 30.0,
        clock: Callable[[], datetime] = utcnow,
        algorithms: Iterable[str] = (),
        propagation: timedelta = timedelta(0),
    ) -> None:
        """``algorithms``: those besides ``alg`` that must always have a key (the
        advertised ID-token algorithms); ``propagation``: how long a first key
        of an algorithm is published before it signs on a database that has
        served keys already (``IDENTITY_KEY_PROPAGATION_SECONDS``)."""
        self._uow = uow
        self._alg = alg
        self.algorithms = tuple(dict.fromkeys((alg, *algorithms)))
        self._propagation = propagation
        self._refresh_seconds = refresh_seconds
        self._clock = clock
        self._snapshot: _Snapshot | None = None
        self._lock = threading.Lock()
        self._parsed: dict[str, Signer] = {}

    def ensure_signing_key(self, alg: str | None = None) -> None:
        """Give ``alg`` (default: every algorithm of this store) a key if it has
        none signing or about to sign; safe when replicas start together."""
        algs = [alg] if alg else list(self.algorithms)
        with self._uow() as uow:
            repo = uow.signing_keys
            repo.lock()
            now = self._clock()
            for key in signing_keys.first_keys(
                repo.all(), algs, now, propagation=self._propagation
            ):
                repo.add(key)
        self.reload()

    def rotate(
        self,
        *,
        longest_token: timedelta,
        propagation: timedelta,
        alg: str | None = None,
        actor: str = "gaap-admin",
    ) -> list[Rotation]:
        """Rotate the key of ``alg``, or of every algorithm that has a signing key.

        The new key is published at once and signs after ``propagation``; the
        old one signs until then and stays published until every token it may
        have signed has expired (``longest_token`` plus the verifiers' leeway).
        """
        with self._uow() as uow:
            repo = uow.signing_keys
            repo.lock()
            keys = repo.all()
            now = self._clock()
            algs = [alg] if alg else sorted({k.alg for k in keys if k.signs_at(now)})
            rotations = [
                signing_keys.rotate(
                    keys,
                    a,
                    now,
                    propagation=propagation,
                    longest_token=longest_token + VERIFIER_LEEWAY,
                )
                for a in algs
            ]
            for rotation in rotations:
                repo.add(rotation.new)
                repo.set_times(rotation.retired)
                uow.audit.record(
                    EventType.KEYS_ROTATED,
                    at=now,
                    alg=rotation.new.alg,
                    new_kid=rotation.new.kid,
                    retired_kid=rotation.retired.kid,
                    switch_at=rotation.switch_at.isoformat(),
                    unpublish_at=(rotation.retired.expires_at or now).isoformat(),
                    by=actor,
                )
        self.reload()
        return rotations

    def list_keys(self) -> list[KeyInfo]:
        """Every key, newest first, with its status now."""
        with self._uow.read() as uow:
            keys = uow.signing_keys.all()
        now = self._clock()
        return [
            KeyInfo(
                kid=k.kid,
                alg=k.alg,
                status=signing_keys.status(k, now),
                created_at=k.created_at,
                activates_at=k.activates_at,
                retires_at=k.retires_at,
                expires_at=k.expires_at,
            )
            for k in sorted(keys, key=lambda k: (k.created_at, k.kid), reverse=True)
        ]

    def reload(self) -> None:
        with self._uow.read() as uow:
            keys: Sequence[SigningKey] = uow.signing_keys.all()
        now = self._clock()
        signers = {}
        for alg in signing_keys.SIGNING_ALGORITHMS:
            active = signing_keys.active_key(keys, now, alg)
            if active is not None:
                signers[alg] = self._signer(active)
        self._snapshot = _Snapshot(
            loaded_at=time.monotonic(),
            next_change=signing_keys.next_change(keys, now),
            jwks=signing_keys.jwks(keys, now),
            signers=signers,
        )

    def _signer(self, key: SigningKey) -> Signer:
        signer = self._parsed.get(key.kid)
        if signer is None:
            parsed = load_pem_private_key(key.private_pem, password=None)
            pem = key.private_pem
            jwk = ECKey.import_key(pem) if key.alg == "ES256" else RSAKey.import_key(pem)
            signer = self._parsed[key.kid] = Signer(key.kid, key.alg, parsed, jwk)
        return signer

    def _stale(self, snapshot: _Snapshot | None) -> bool:
        if snapshot is None or time.monotonic() - snapshot.loaded_at > self._refresh_seconds:
            return True
        return snapshot.next_change is not None and self._clock() >= snapshot.next_change

    def _current(self) -> _Snapshot:
        snapshot = self._snapshot
        if self._stale(snapshot):
            with self._lock:
                if self._stale(self._snapshot):
                    self.reload()
                snapshot = self._snapshot
        assert snapshot is not None
        return snapshot

    def signer(self, alg: str | None = None) -> Signer:
        """The key that signs now with ``alg``.

        Without ``alg`` (access tokens): the configured algorithm's key, or while
        that algorithm's first key is still propagating, the key of an algorithm
        that signs now. With ``alg`` (an agency's ID-token algorithm) only that
        algorithm will do. Never a key made here and now: see the module's doc.
        """
        signers = self._current().signers
        signer = signers.get(alg or self._alg)
        if signer is None and alg is None:
            signer = next(iter(signers.values()), None)
        if signer is None:
            raise FailedPrecondition(
                f"no {alg or self._alg} signing key is active yet: its first key signs once it "
                "has been published for IDENTITY_KEY_PROPAGATION_SECONDS"
            )
        return signer

    def jwks(self) -> dict[str, Any]:
        return self._current().jwks
