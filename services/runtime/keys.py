"""A cache of identity's public signing keys, by ``kid``.

Resource servers verify tokens locally: the JWK Set is fetched once, kept, and
fetched again only when a token names a ``kid`` the cache does not know (at most
once per ``min_refresh_interval``, so forged ``kid`` values cannot flood identity)
or when the cache is older than ``max_age`` (so retired keys drop out).
"""

from __future__ import annotations

import json
import logging
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx
from jwt import PyJWK, PyJWKSet
from jwt.exceptions import PyJWKSetError

from services.runtime import egress_http
from services.runtime.egress import ANY_ADDRESS
from services.runtime.errors import Unavailable
from services.runtime.outbound import request_id_headers

log = logging.getLogger(__name__)

JwksFetcher = Callable[[], Mapping[str, Any]]
# A real JWK Set is a few KiB; this leaves room for many keys, and no more.
MAX_JWKS_BYTES = 256 * 1024


class KeyCache:
    """Thread-safe ``kid -> PyJWK`` cache over any JWKS fetcher."""

    def __init__(
        self,
        fetch: JwksFetcher,
        *,
        max_age: float = 900.0,
        min_refresh_interval: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self._max_age = max_age
        self._min_refresh_interval = min_refresh_interval
        self._clock = clock
        self._keys: dict[str, PyJWK] = {}
        self._fetched_at: float | None = None
        self._lock = threading.Lock()

    def get(self, kid: str) -> PyJWK | None:
        """The key for ``kid``; ``None`` if identity does not publish it.

        Raises ``Unavailable`` only when no keys have ever been fetched and
        identity cannot be reached.
        """
        fetched_at = self._fetched_at
        if fetched_at is not None and self._clock() - fetched_at < self._max_age:
            key = self._keys.get(kid)
            if key is not None:
                return key
        self._refresh(reason="unknown kid" if fetched_at is not None else "first use")
        return self._keys.get(kid)

    def invalidate(self) -> None:
        """Forget the fetch time so the next lookup fetches again (used after rotation)."""
        with self._lock:
            self._fetched_at = None

    def _refresh(self, reason: str) -> None:
        with self._lock:
            now = self._clock()
            if self._fetched_at is not None and now - self._fetched_at < self._min_refresh_interval:
                return
            try:
                keys = _parse(self._fetch())
            except Unavailable:
                if self._fetched_at is None:
                    raise
                log.warning("could not refresh signing keys; keeping the cached ones")
                self._fetched_at = now  # back off for min_refresh_interval
                return
            self._keys = keys
            self._fetched_at = now
            log.info("signing keys loaded", extra={"reason": reason, "kids": sorted(keys)})


def _parse(document: Mapping[str, Any]) -> dict[str, PyJWK]:
    """The usable keys of a JWK Set; a document without any counts as a failed fetch."""
    try:
        key_set = PyJWKSet.from_dict(dict(document))
    except PyJWKSetError:
        raise Unavailable("identity's JWKS holds no usable keys") from None
    return {key.key_id: key for key in key_set.keys if key.key_id}


def http_fetcher(
    url: str, timeout: float = 5.0, verify: ssl.SSLContext | bool = True
) -> JwksFetcher:
    """Fetch a JWK Set over HTTP(S); network and HTTP errors become ``Unavailable``.

    The whole exchange ends within ``timeout`` (the name's lookup included), at
    most ``MAX_JWKS_BYTES`` are read, and redirects are not followed: a wrong
    or hostile answer cannot hold the call that needed the keys, nor fill
    memory. The URL is the operator's (an internal address by design), so the
    egress guard's address rules do not apply. ``verify``: the TLS context
    (trusted CA, client certificate for mutual TLS). The request id of the call
    that needed the keys goes along (``x-request-id``).
    """
    client = egress_http.client(ANY_ADDRESS, timeout=timeout, verify=verify, connections=4)

    def fetch() -> Mapping[str, Any]:
        headers = {"accept": "application/json", **request_id_headers()}
        try:
            reply = egress_http.get(
                client, url, headers=headers, seconds=timeout, max_body=MAX_JWKS_BYTES
            )
        except httpx.HTTPError as exc:
            raise Unavailable(f"cannot fetch identity's signing keys from {url}") from exc
        if reply.truncated:
            raise Unavailable(f"identity's JWKS at {url} is larger than {MAX_JWKS_BYTES} bytes")
        if not 200 <= reply.status < 300:
            raise Unavailable(f"identity's JWKS at {url} answered HTTP {reply.status}")
        try:
            document = json.loads(reply.body)
        except ValueError as exc:
            raise Unavailable(f"identity's JWKS at {url} is not JSON") from exc
        if not isinstance(document, dict):
            raise Unavailable(f"identity's JWKS at {url} is not a JSON object")
        return document

    return fetch
