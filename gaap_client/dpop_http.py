"""DPoP over HTTP (RFC 9449): an ``httpx.Auth`` that puts a fresh proof on every
request (and ``Authorization: DPoP <token>`` at a resource server), keeps each
server's latest ``DPoP-Nonce``, and retries once with a new proof carrying the
nonce when the server asks for one: 400 ``{"error": "use_dpop_nonce"}`` from an
authorization server (§8), 401 ``WWW-Authenticate: DPoP error="use_dpop_nonce"``
from a resource server (§9).

Use it on identity's endpoints (the sign-in does) and on the services' JSON
endpoints: ``httpx.post(url, json=..., auth=DpopAuth(key, nonces,
access_token=token))``."""

from __future__ import annotations

from collections.abc import Generator

import httpx

from gaap_client.dpop import NONCE_HEADER, DpopKey, DpopNonces, origin


def asks_for_nonce(response: httpx.Response) -> bool:
    """Whether the server refused the proof for want of (a newer) nonce."""
    if response.status_code == 400:
        try:
            body = response.json()
        except ValueError:
            return False
        return isinstance(body, dict) and body.get("error") == "use_dpop_nonce"
    if response.status_code == 401:
        # The DPoP challenge may come after others, in one header or several.
        challenges = response.headers.get_list("www-authenticate")
        return any('error="use_dpop_nonce"' in challenge for challenge in challenges)
    return False


class DpopAuth(httpx.Auth):
    """A proof by ``key`` on each request, for its method and URL (``htu``: the
    URL without query and fragment, unless ``htu`` names the public one).

    ``access_token``: sent as ``DPoP <token>``, and the proof's ``ath`` is its
    hash. ``client_auth``: the client authentication to apply first (a token or
    pushed-authorization request); it runs again for the retry, so a
    ``private_key_jwt`` assertion is never sent twice."""

    requires_request_body = True
    requires_response_body = True  # a 400's JSON says whether a nonce is wanted

    def __init__(
        self,
        key: DpopKey,
        nonces: DpopNonces,
        *,
        access_token: str | None = None,
        client_auth: httpx.Auth | None = None,
        htu: str | None = None,
    ) -> None:
        self._key = key
        self._nonces = nonces
        self._access_token = access_token
        self._client_auth = client_auth
        self._htu = htu

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        server = origin(str(request.url))
        sent = self._nonces.get(server)
        response = yield self._signed(request, sent)
        fresh = self._nonces.remember(server, response.headers.get(NONCE_HEADER))
        if fresh is not None and fresh != sent and asks_for_nonce(response):
            response = yield self._signed(request, fresh)
            self._nonces.remember(server, response.headers.get(NONCE_HEADER))

    def _signed(self, request: httpx.Request, nonce: str | None) -> httpx.Request:
        if self._client_auth is not None:
            request = next(self._client_auth.auth_flow(request))
        htu = self._htu or str(request.url.copy_with(query=None, fragment=None))
        request.headers["DPoP"] = self._key.proof(
            request.method, htu, self._access_token, nonce=nonce
        )
        if self._access_token is not None:
            request.headers["Authorization"] = f"DPoP {self._access_token}"
        return request
