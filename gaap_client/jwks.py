"""identity's signing keys for the relying party, as joserfc keys."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from joserfc.errors import JoseError
from joserfc.jwk import Key, import_key


class KeyCache:
    """identity's keys by ``kid``, refreshed after ``max_age`` or on an unknown
    ``kid``, but at most once per ``min_interval`` (a forged kid cannot make us
    hammer identity). Each key is parsed once per fetch: parsing costs about as
    much as checking a signature."""

    def __init__(
        self,
        fetch: Callable[[], dict[str, Any]],
        max_age: float = 900,
        min_interval: float = 5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self._max_age = max_age
        self._min_interval = min_interval
        self._clock = clock
        self._keys: dict[str, tuple[dict[str, Any], Key]] = {}
        self._fetched_at: float | None = None
        self._lock = threading.Lock()

    def get(self, kid: str) -> tuple[dict[str, Any], Key] | None:
        """The JWK (its published parameters) and the parsed key, or None."""
        with self._lock:
            now = self._clock()
            stale = self._fetched_at is None or now - self._fetched_at > self._max_age
            unknown = kid not in self._keys and (
                self._fetched_at is None or now - self._fetched_at >= self._min_interval
            )
            if stale or unknown:
                self._keys = _parse(self._fetch())
                self._fetched_at = now
            return self._keys.get(kid)


def _parse(document: dict[str, Any]) -> dict[str, tuple[dict[str, Any], Key]]:
    keys: dict[str, tuple[dict[str, Any], Key]] = {}
    for jwk in document.get("keys", []):
        if not isinstance(jwk, dict) or "kid" not in jwk:
            continue
        try:
            keys[str(jwk["kid"])] = (jwk, import_key(jwk))
        except (JoseError, ValueError, TypeError):
            continue  # a key we cannot use verifies nothing; the others still do
    return keys
