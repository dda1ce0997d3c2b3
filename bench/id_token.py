"""Verifying an ID token as an agency does (issue 3): the client library's
``OpenIdClient.validate_id_token`` against a cached JWKS, compared with a bare
pyjwt ES256 verification of the same token with a ready key object, in one
process, one after the other, alternating rounds so machine noise hits both.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from bench.harness import Session
from bench.report import Figure, Target
from gaap_client.credentials import ClientSecret
from gaap_client.signin import OpenIdClient

ISSUER = "https://identity.gaap.test"
CLIENT_ID = "ag_bench"
NONCE = "n-0123456789"
VERIFY_TARGET = Target("ratio", ">=", 0.8)
ROUNDS = 3


def _identity(public_jwk: dict[str, object]) -> httpx.MockTransport:
    """identity's discovery and JWKS, answered in process (fetched once, then cached)."""
    discovery = {"issuer": ISSUER, "jwks_uri": ISSUER + "/.well-known/jwks.json"}

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/openid-configuration"):
            return httpx.Response(200, json=discovery)
        return httpx.Response(200, json={"keys": [public_jwk]})

    return httpx.MockTransport(answer)


def _rate(verify: Callable[[], object], seconds: float) -> float:
    done = 0
    deadline = time.perf_counter() + seconds
    start = time.perf_counter()
    while time.perf_counter() < deadline:
        for _ in range(100):
            verify()
        done += 100
    return done / (time.perf_counter() - start)


def id_token_verify(session: Session) -> list[Figure]:
    private = ec.generate_private_key(ec.SECP256R1())
    public_jwk = ECAlgorithm.to_jwk(private.public_key(), as_dict=True)
    public_jwk.update({"kid": "k1", "alg": "ES256", "use": "sig"})
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "sub": "pairwise-subject",
        "aud": CLIENT_ID,
        "iat": now,
        "exp": now + 3600,
        "auth_time": now,
        "nonce": NONCE,
        "acr": "Cl.Cm",
        "amr": ["pwd", "otp"],
        "sid": "s1",
    }
    token = jwt.encode(claims, private, algorithm="ES256", headers={"kid": "k1", "typ": "JWT"})
    client = OpenIdClient(
        ISSUER,
        ClientSecret(CLIENT_ID, "unused"),
        "https://agency.example/callback",
        http=httpx.Client(transport=_identity(public_jwk)),
    )
    public_key = private.public_key()

    def bare() -> object:
        return jwt.decode(
            token, public_key, algorithms=["ES256"], audience=CLIENT_ID, issuer=ISSUER
        )

    def as_agencies_do() -> object:
        return client.validate_id_token(token, nonce=NONCE, acr_values=("Cl.Cm",))

    as_agencies_do()  # fetch discovery and keys once
    _rate(bare, session.warmup / 2)
    _rate(as_agencies_do, session.warmup / 2)
    phase = max(0.5, session.seconds / ROUNDS / 2)
    baseline = rate = 0.0
    for _ in range(ROUNDS):
        baseline = max(baseline, _rate(bare, phase))
        rate = max(rate, _rate(as_agencies_do, phase))
    return [
        Figure("id-token", "bare pyjwt ES256 verify", baseline, "verifies/s"),
        Figure(
            "id-token",
            "ID token validated by gaap_client (cached JWKS)",
            rate,
            "verifies/s",
            baseline=baseline,
            baseline_source="bare pyjwt ES256 verify, same run",
            target=VERIFY_TARGET,
        ),
    ]
