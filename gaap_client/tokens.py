"""Access tokens for the agency itself (``client_credentials`` through authlib's
client), cached and renewed before they expire."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

import httpx

from gaap_client.credentials import Credentials
from gaap_client.dpop import DpopKey, DpopNonces
from gaap_client.oauth import TokenRefused, oauth_client


class TokenError(Exception):
    """identity refused to issue a token (``error`` is the OAuth error code)."""

    def __init__(self, error: str, description: str = "") -> None:
        super().__init__(f"{error}: {description}" if description else error)
        self.error = error
        self.description = description


class TokenSource:
    """Gets an access token with the ``client_credentials`` grant and reuses it
    until shortly before it expires (``renew_before`` seconds, at most half its
    lifetime). Thread-safe: concurrent callers share one request.

    ``http`` is the httpx client the token requests go through (its transport,
    TLS settings and proxies); by default a new one with ``timeout``.

    ``dpop``: a key to bind the tokens to (RFC 9449): each token request carries
    a proof by it (with identity's ``DPoP-Nonce`` once it asked for one), and
    identity answers DPoP-bound tokens.

    ``audience``: the ``aud`` of ``private_key_jwt`` assertions, by default the
    token endpoint; an agency with the FAPI 2.0 profile must use the issuer.
    """

    def __init__(
        self,
        token_endpoint: str,
        credentials: Credentials,
        *,
        scopes: Sequence[str] = (),
        renew_before: float = 60.0,
        timeout: float = 10.0,
        http: httpx.Client | None = None,
        clock: Callable[[], float] = time.monotonic,
        dpop: DpopKey | None = None,
        audience: str | None = None,
    ) -> None:
        self.token_endpoint = token_endpoint
        self.dpop = dpop
        self.credentials = credentials
        self.scopes = tuple(scopes)
        self._renew_before = renew_before
        self.nonces = DpopNonces()
        self._oauth = oauth_client(
            credentials,
            http or httpx.Client(timeout=timeout),
            audience=audience,
            dpop=dpop,
            nonces=self.nonces,
        )
        self._clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._renew_at = 0.0
        self.issued = 0  # tokens fetched so far (for monitoring and tests)

    def token(self) -> str:
        with self._lock:
            if self._token is None or self._clock() >= self._renew_at:
                self._fetch()
            assert self._token is not None
            return self._token

    def invalidate(self) -> None:
        """Forget the cached token (after the service said it is not valid)."""
        with self._lock:
            self._token = None

    def _fetch(self) -> None:
        started = self._clock()
        form = {"scope": " ".join(self.scopes)} if self.scopes else {}
        try:
            body = self._oauth.fetch(self.token_endpoint, grant_type="client_credentials", **form)
        except TokenRefused as refused:
            raise TokenError(refused.error, refused.description) from None
        if "access_token" not in body:
            raise TokenError("invalid_token_response", "no access_token in the answer")
        if self.dpop is not None and str(body.get("token_type", "")).lower() != "dpop":
            raise TokenError("invalid_token_response", "the token is not bound to the DPoP key")
        # The lifetime, not authlib's expires_at: renewal runs on this source's clock.
        lifetime = float(body.get("expires_in") or 300)
        self._token = str(body["access_token"])
        self._renew_at = started + lifetime - min(self._renew_before, lifetime / 2)
        self.issued += 1
