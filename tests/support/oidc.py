"""A relying party and a citizen's browser, in plain HTTP, for identity's tests.

``RelyingParty`` builds authorization requests (PKCE S256, state, nonce) and
redeems codes; ``CitizenBrowser`` follows identity's pages the way a browser
would (cookies, forms with their CSRF tokens) without JavaScript.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from html import unescape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import httpx
import jwt
import pyotp

from tests.support.platform import ISSUER

BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"
CALLBACK = "https://rp.example.gov/callback"
SIGNED_OUT = "https://rp.example.gov/signed-out"


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode()
    return verifier, challenge.rstrip("=")


@dataclass
class AuthRequest:
    url: str
    state: str
    nonce: str
    verifier: str


@dataclass
class RelyingParty:
    base: str  # identity's real HTTP URL in the test
    client_id: str
    client_secret: str | None
    redirect_uri: str = CALLBACK

    def auth_request(self, scope: str = "openid profile email", **extra: str) -> AuthRequest:
        verifier, challenge = pkce_pair()
        state, nonce = secrets.token_urlsafe(8), secrets.token_urlsafe(8)
        params = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "scope": scope,
            "state": state,
            "nonce": nonce,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            **extra,
        }
        params = {k: v for k, v in params.items() if v != ""}
        return AuthRequest(f"{self.base}/authorize?{urlencode(params)}", state, nonce, verifier)

    def token(self, **form: str) -> httpx.Response:
        auth = (self.client_id, self.client_secret) if self.client_secret else None
        if auth is None:
            form = {"client_id": self.client_id, **form}
        return httpx.post(f"{self.base}/oauth2/token", data=form, auth=auth)

    def redeem(self, code: str, verifier: str, **extra: str) -> httpx.Response:
        return self.token(
            grant_type="authorization_code",
            code=code,
            redirect_uri=self.redirect_uri,
            code_verifier=verifier,
            **extra,
        )


@dataclass
class Form:
    action: str
    fields: dict[str, str]


@dataclass
class CitizenBrowser:
    base: str
    client: httpx.Client = field(default_factory=lambda: httpx.Client(follow_redirects=False))
    last: httpx.Response | None = None

    def get(self, url: str) -> httpx.Response:
        self.last = self.client.get(urljoin(self.base + "/", url))
        return self.last

    def follow(self, response: httpx.Response, stop_at: str = CALLBACK) -> httpx.Response:
        """Follow identity's redirects; stop at the client (outside identity)."""
        while response.status_code in (302, 303) and not response.headers["location"].startswith(
            stop_at
        ):
            location = response.headers["location"]
            if not location.startswith(("/", self.base)):
                break
            response = self.get(location)
        self.last = response
        return response

    def form(self, response: httpx.Response) -> Form:
        html = response.text
        match = re.search(r'<form method="post" action="([^"]+)"', html)
        assert match, html[:2000]
        fields = {
            unescape(n): unescape(v)
            for n, v in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html)
        }
        return Form(unescape(match.group(1)), fields)

    def submit(self, response: httpx.Response, **values: str) -> httpx.Response:
        form = self.form(response)
        self.last = self.client.post(
            urljoin(self.base + "/", form.action), data={**form.fields, **values}
        )
        return self.last

    def sign_in(
        self,
        start: str,
        email: str,
        password: str,
        totp_secret: str | None = None,
        consent: bool = True,
        stop_at: str = CALLBACK,
    ) -> httpx.Response:
        """From an authorization URL to the redirect back to the client."""
        page = self.follow(self.get(start), stop_at)
        if "/signin" in str(page.url) and 'name="password"' in page.text:
            page = self.follow(self.submit(page, email=email, password=password), stop_at)
        if 'name="code"' in page.text:
            assert totp_secret, "a second factor was asked for"
            page = self.follow(self.submit(page, code=pyotp.TOTP(totp_secret).now()), stop_at)
        if 'name="decision"' in page.text:
            page = self.follow(self.submit(page, decision="allow" if consent else "deny"), stop_at)
        return page


def callback_params(response: httpx.Response) -> dict[str, str]:
    assert response.status_code in (302, 303), (response.status_code, response.text[:500])
    query = parse_qs(urlsplit(response.headers["location"]).query)
    return {k: v[0] for k, v in query.items()}


def decode_unverified(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    import json

    decoded: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return decoded


class LogoutReceiver:
    """An agency's back-channel logout endpoint: keeps the logout tokens POSTed to it."""

    def __init__(self) -> None:
        self.tokens: list[str] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"])).decode()
                receiver.tokens.append(parse_qs(body)["logout_token"][0])
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/backchannel"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def claims(
        self,
        identity_url: str,
        audience: str,
        timeout: float = 10,
        clock: Callable[[], datetime] | None = None,
    ) -> dict[str, Any]:
        """The first logout token's claims, verified as an agency would (identity's
        JWKS, issuer, audience, the logout event, no nonce). ``clock``:
        identity's, when a test has moved it (its times are checked on it)."""
        deadline = time.monotonic() + timeout
        while not self.tokens and time.monotonic() < deadline:
            time.sleep(0.05)
        assert self.tokens, "no back-channel logout token arrived"
        token = self.tokens[0]
        header = jwt.get_unverified_header(token)
        assert header["typ"] == "logout+jwt"
        document = httpx.get(identity_url + "/.well-known/jwks.json").json()
        key = {k["kid"]: jwt.PyJWK(k) for k in document["keys"]}[header["kid"]]
        on_wall_clock = clock is None
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=["ES256", "RS256"],
            audience=audience,
            issuer=ISSUER,
            options={"require": ["iat"], "verify_iat": on_wall_clock, "verify_exp": on_wall_clock},
        )
        if clock is not None:
            now = clock().timestamp()
            assert claims["iat"] <= now < claims.get("exp", now + 1), (claims, now)
        assert BACKCHANNEL_EVENT in claims["events"]
        assert "nonce" not in claims
        return claims

    def close(self) -> None:
        self.server.shutdown()
