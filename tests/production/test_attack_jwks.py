"""Attacks through identity's JWKS as payments and notify fetch it (issue 13
follow-ups): whatever answers at ``GAAP_JWKS_URL`` (a broken or hijacked
identity, a proxy gone wrong) must not hang the call that needed the keys nor
fill the service's memory. The fetch reads at most ``MAX_JWKS_BYTES``, ends
within its deadline and follows no redirect; the service keeps the keys it has
and answers UNAUTHENTICATED for a key it cannot learn.

The JWKS is served by a local HTTP server told how to behave; the verifier is
built as ``bootstrap.token_verifier`` builds payments', with a clock to pass
the cache's minimum refresh interval.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from services.runtime.access_tokens import AccessTokenVerifier, audience_for
from services.runtime.errors import Unauthenticated, Unavailable
from services.runtime.keys import MAX_JWKS_BYTES, KeyCache, http_fetcher

ISSUER = "https://identity.gaap.test"
KID = "key-now"
ENDLESS = 64 * 1024 * 1024  # what the endless JWKS would send if let
TRICKLE = 400  # bytes, one every 50 ms: 20 s if let
HANG_GUARD = 20.0


class Identity:
    """A stand-in for identity's JWKS endpoint. ``mode`` picks the answer to
    ``/jwks``: ``good``, ``endless`` (a JSON array without end), ``trickle``
    (one byte at a time) or ``redirect`` (to ``/elsewhere``)."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.mode = "good"
        self.paths: list[str] = []
        self.written: list[int] = []  # per endless or trickled answer, when it ended
        self.ended = threading.Event()
        identity = self
        body = json.dumps(document).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                identity.paths.append(self.path)
                getattr(self, "_" + identity.mode)()

            def _good(self) -> None:
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _redirect(self) -> None:
                self.send_response(302)
                self.send_header("location", "/elsewhere")
                self.send_header("content-length", "0")
                self.end_headers()

            def _endless(self) -> None:
                self._stream(b'{"kty":"oct","k":"' + b"A" * 65000 + b'"},', ENDLESS)

            def _trickle(self) -> None:
                self._stream(b" ", TRICKLE, pause=0.05)

            def _stream(self, piece: bytes, total: int, pause: float = 0.0) -> None:
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.end_headers()  # HTTP/1.0: the body ends when the connection does
                written = 0
                try:
                    self.wfile.write(b'{"keys":[')
                    while written < total:
                        self.wfile.write(piece)
                        self.wfile.flush()
                        written += len(piece)
                        if pause:
                            time.sleep(pause)  # the trickle itself, not a wait in the test
                except OSError:
                    pass
                identity.written.append(written)
                identity.ended.set()

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/jwks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def signing_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture
def identity(signing_key: ec.EllipticCurvePrivateKey) -> Iterator[Identity]:
    public = ECAlgorithm.to_jwk(signing_key.public_key(), as_dict=True)
    running = Identity({"keys": [{**public, "kid": KID, "alg": "ES256", "use": "sig"}]})
    yield running
    running.server.shutdown()


def token(key: ec.EllipticCurvePrivateKey, kid: str) -> str:
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "sub": "ag_0123456789abcdef01234567",
        "aud": audience_for("payments"),
        "client_id": "ag_0123456789abcdef01234567",
        "scope": "payments:read",
        "gaap_mode": "test",
        "iat": now,
        "nbf": now,
        "exp": now + 300,
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, key, algorithm="ES256", headers={"kid": kid, "typ": "at+jwt"})


def test_an_endless_jwks_is_cut_at_the_cap(identity: Identity) -> None:
    identity.mode = "endless"
    with pytest.raises(Unavailable, match=f"larger than {MAX_JWKS_BYTES} bytes"):
        http_fetcher(identity.url, timeout=HANG_GUARD)()
    # identity found the connection closed long before it had sent it all.
    assert identity.ended.wait(HANG_GUARD)
    assert identity.written[0] < ENDLESS


def test_a_trickled_jwks_is_cut_at_the_deadline(identity: Identity) -> None:
    identity.mode = "trickle"
    with pytest.raises(Unavailable, match="cannot fetch"):
        # Each byte comes well within a read timeout; the whole is not allowed.
        http_fetcher(identity.url, timeout=0.5)()
    assert identity.ended.wait(HANG_GUARD)
    assert identity.written[0] < TRICKLE


def test_a_redirect_is_not_followed(identity: Identity) -> None:
    identity.mode = "redirect"
    with pytest.raises(Unavailable, match="HTTP 302"):
        http_fetcher(identity.url)()
    assert identity.paths == ["/jwks"]


def test_the_service_keeps_its_keys_and_refuses_an_unknown_one_when_the_jwks_turns_endless(
    identity: Identity, signing_key: ec.EllipticCurvePrivateKey
) -> None:
    now = [1000.0]
    keys = KeyCache(http_fetcher(identity.url), clock=lambda: now[0])
    verifier = AccessTokenVerifier(issuer=ISSUER, audience=audience_for("payments"), keys=keys)
    assert verifier.verify(token(signing_key, KID)).client_id == "ag_0123456789abcdef01234567"

    identity.mode = "endless"
    now[0] += 60  # past the minimum refresh interval, within the cache's max age
    # A kid the cache does not know: it asks identity again, gets nothing usable,
    # keeps what it has, and the call is refused as an unknown key.
    with pytest.raises(Unauthenticated, match="unknown key"):
        verifier.verify(token(signing_key, "key-next"))
    assert identity.paths == ["/jwks", "/jwks"]
    assert identity.ended.wait(HANG_GUARD)
    assert identity.written[0] < ENDLESS
    # The cached key still verifies.
    assert verifier.verify(token(signing_key, KID)).client_id == "ag_0123456789abcdef01234567"
