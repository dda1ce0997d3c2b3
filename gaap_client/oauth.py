"""authlib's OAuth 2.0 client on an httpx client: the token requests of
``TokenSource`` and ``OpenIdClient``, authenticated with the agency's credentials.

authlib's own httpx integration is deprecated in favour of ``httpx2``; its
protocol client (``authlib.oauth2.client.OAuth2Client``) takes any session with
``post``, so this module gives it httpx (which the platform's tracing
instruments) and an ``httpx.Auth`` for authlib's client authentication.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import httpx
from authlib.oauth2.auth import ClientAuth
from authlib.oauth2.client import OAuth2Client
from authlib.oauth2.rfc6749 import OAuth2Token
from authlib.oauth2.rfc7523 import PrivateKeyJWT

from gaap_client.credentials import Credentials, PrivateKeyJwt
from gaap_client.dpop import DpopKey, DpopNonces
from gaap_client.dpop_http import DpopAuth


class TokenRefused(Exception):
    """The token endpoint refused (``error`` is the OAuth error code, or
    ``http_<status>`` when the answer was not an OAuth error)."""

    def __init__(self, error: str, description: str = "") -> None:
        super().__init__(f"{error}: {description}" if description else error)
        self.error = error
        self.description = description


class _HttpxClientAuth(httpx.Auth, ClientAuth):  # type: ignore[misc]
    """authlib's client authentication (HTTP Basic, or an assertion in the form)
    applied to an httpx request."""

    requires_request_body = True

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        url, headers, body = self.prepare(
            request.method, str(request.url), request.headers, request.content.decode()
        )
        content = body.encode() if isinstance(body, str) else body
        headers["Content-Length"] = str(len(content))
        yield httpx.Request(request.method, url, headers=headers, content=content)


class _AgencyKeyJWT(PrivateKeyJWT):  # type: ignore[misc]
    """authlib's ``private_key_jwt`` method, signing the agency's short-lived
    assertion (``PrivateKeyJwt.assertion``) for the endpoint it is sent to, or
    for ``audience`` when set (FAPI 2.0: the issuer, whatever the endpoint)."""

    def __init__(self, credentials: PrivateKeyJwt, audience: str | None = None) -> None:
        super().__init__(alg=credentials.algorithm)
        self.credentials = credentials
        self.audience = audience

    def sign(self, auth: Any, token_endpoint: str) -> str:
        return self.credentials.assertion(self.audience or token_endpoint)


class OAuthClient(OAuth2Client):  # type: ignore[misc]
    client_auth_class = _HttpxClientAuth

    def parse_response_token(self, resp: httpx.Response) -> OAuth2Token:
        # Unlike authlib's, keeps no token on the client: the sign-ins of different
        # citizens share one client, possibly at the same time.
        try:
            body = resp.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise TokenRefused(f"http_{resp.status_code}")
        if resp.status_code != 200 or "error" in body:
            raise TokenRefused(
                str(body.get("error") or f"http_{resp.status_code}"),
                str(body.get("error_description") or ""),
            )
        return OAuth2Token.from_dict(body)

    def fetch(self, url: str, **form: Any) -> dict[str, Any]:
        """The token endpoint's answer to ``form`` (``grant_type`` and its fields)."""
        token: dict[str, Any] = self.fetch_token(url, **form)
        return token


class DpopSession:
    """The session authlib posts through: ``http``, with a DPoP proof by ``key``
    after the client authentication on every request (and the nonce retry)."""

    def __init__(self, http: httpx.Client, key: DpopKey, nonces: DpopNonces) -> None:
        self.http = http
        self.key = key
        self.nonces = nonces

    def post(self, url: str, *, auth: httpx.Auth | None = None, **options: Any) -> httpx.Response:
        dpop = DpopAuth(self.key, self.nonces, client_auth=auth)
        return self.http.post(url, auth=dpop, **options)

    def close(self) -> None:
        self.http.close()


def oauth_client(
    credentials: Credentials,
    http: httpx.Client,
    *,
    audience: str | None = None,
    dpop: DpopKey | None = None,
    nonces: DpopNonces | None = None,
) -> OAuthClient:
    """authlib's client for ``credentials``, sending through ``http``.

    ``audience``: the ``aud`` of every ``private_key_jwt`` assertion (by default
    the endpoint it is sent to). ``dpop``: every request carries a proof by this
    key, with the server's nonce once it asked for one (kept in ``nonces``)."""
    session: httpx.Client | DpopSession = http
    if dpop is not None:
        session = DpopSession(http, dpop, nonces or DpopNonces())
    if isinstance(credentials, PrivateKeyJwt):
        client = OAuthClient(
            session,
            client_id=credentials.client_id,
            client_secret=credentials.jwk(),
            token_endpoint_auth_method="private_key_jwt",
            revocation_endpoint_auth_method="private_key_jwt",
            code_challenge_method="S256",
        )
        client.register_client_auth_method(_AgencyKeyJWT(credentials, audience))
        return client
    return OAuthClient(
        session,
        client_id=credentials.client_id,
        client_secret=credentials.client_secret,
        token_endpoint_auth_method="client_secret_basic",
        revocation_endpoint_auth_method="client_secret_basic",
        code_challenge_method="S256",
    )
