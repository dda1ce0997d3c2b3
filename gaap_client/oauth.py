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
    assertion (``PrivateKeyJwt.assertion``) for the token endpoint."""

    def __init__(self, credentials: PrivateKeyJwt) -> None:
        super().__init__(alg=credentials.algorithm)
        self.credentials = credentials

    def sign(self, auth: Any, token_endpoint: str) -> str:
        return self.credentials.assertion(token_endpoint)


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


def oauth_client(credentials: Credentials, http: httpx.Client) -> OAuthClient:
    """authlib's client for ``credentials``, sending through ``http``."""
    if isinstance(credentials, PrivateKeyJwt):
        client = OAuthClient(
            http,
            client_id=credentials.client_id,
            client_secret=credentials.jwk(),
            token_endpoint_auth_method="private_key_jwt",
            code_challenge_method="S256",
        )
        client.register_client_auth_method(_AgencyKeyJWT(credentials))
        return client
    return OAuthClient(
        http,
        client_id=credentials.client_id,
        client_secret=credentials.client_secret,
        token_endpoint_auth_method="client_secret_basic",
        code_challenge_method="S256",
    )
