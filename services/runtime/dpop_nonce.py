"""Server-provided DPoP nonces (RFC 9449 §8 at the token endpoint, §9 at a
resource server), stateless so every replica agrees without a shared store.

A nonce is an HMAC, under the service's secret, of the current time window
(``window`` seconds): any replica holding the secret recomputes it, and a
proof's nonce is accepted for the current and the previous window, so a
client's nonce stays good for between one and two windows. Nothing is stored
or looked up per request. A proof without the nonce, or with a stale or forged
one, is refused ``use_dpop_nonce`` with a fresh nonce to retry with
(``DPoP-Nonce`` header; over gRPC, trailing metadata ``dpop-nonce``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable

from services.runtime.errors import Unauthenticated

NONCE_HEADER = "DPoP-Nonce"
NONCE_METADATA = "dpop-nonce"
DEFAULT_WINDOW = 300  # seconds
_CONTEXT = b"gaap dpop nonce v1:"


class UseDpopNonce(Unauthenticated):
    """The proof lacks the server's current nonce; ``nonce`` is the one to use."""

    def __init__(self, message: str, nonce: str) -> None:
        super().__init__(message, f'DPoP error="use_dpop_nonce", error_description="{message}"')
        self.nonce = nonce


class DpopNonces:
    """Issues and checks the nonces of one service (all its replicas share ``secret``)."""

    def __init__(
        self, secret: bytes, *, window: int = DEFAULT_WINDOW, clock: Callable[[], float] = time.time
    ) -> None:
        if len(secret) < 16:
            raise ValueError("a DPoP nonce secret needs at least 16 bytes")
        if window < 1:
            raise ValueError("a DPoP nonce window is at least one second")
        self._secret = secret
        self._window = window
        self._clock = clock

    def _for(self, bucket: int) -> str:
        mac = hmac.new(self._secret, _CONTEXT + str(bucket).encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac[:24]).decode("ascii")

    def _bucket(self) -> int:
        return int(self._clock() // self._window)

    def current(self) -> str:
        """The nonce to hand out now (the ``DPoP-Nonce`` of every response)."""
        return self._for(self._bucket())

    def valid(self, nonce: object) -> bool:
        """Whether ``nonce`` is this window's or the previous one's."""
        if not isinstance(nonce, str) or len(nonce) > 64:
            return False
        now = self._bucket()
        given = nonce.encode("ascii", "replace")
        # Both compared, so the answer takes the same time whichever matched.
        current = hmac.compare_digest(given, self._for(now).encode())
        previous = hmac.compare_digest(given, self._for(now - 1).encode())
        return current or previous

    def check(self, proof: str) -> None:
        """Refuse a verified proof whose ``nonce`` claim is missing or stale."""
        nonce = proof_nonce(proof)
        if nonce is None:
            raise UseDpopNonce("DPoP proof needs the server's nonce", self.current())
        if not self.valid(nonce):
            raise UseDpopNonce("DPoP proof nonce is stale or unknown", self.current())


def proof_nonce(proof: str) -> str | None:
    """The ``nonce`` claim of a proof already verified (its signature checked)."""
    try:
        payload = proof.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError, UnicodeError):
        return None
    nonce = claims.get("nonce") if isinstance(claims, dict) else None
    return nonce if isinstance(nonce, str) else None
