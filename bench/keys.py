"""EC P-256 keys and ES256 JWTs for the benchmarks' tokens and client assertions."""

from __future__ import annotations

import json
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

ALG = "ES256"
AUDIENCES = ["urn:gaap:payments", "urn:gaap:notify"]


@dataclass(frozen=True)
class KeyPair:
    """A picklable signing key: PEM for the signer, public JWK for the verifier."""

    kid: str
    private_pem: bytes
    public_jwk: dict[str, Any]

    @property
    def public_jwks(self) -> dict[str, Any]:
        return {"keys": [self.public_jwk]}


def new_key_pair() -> KeyPair:
    private = ec.generate_private_key(ec.SECP256R1())
    kid = "bench-" + secrets.token_hex(6)
    public = json.loads(ECAlgorithm.to_jwk(private.public_key()))
    public.update(kid=kid, alg=ALG, use="sig")
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return KeyPair(kid=kid, private_pem=pem, public_jwk=public)


class Signer:
    """Signs ES256 JWTs with one parsed private key."""

    def __init__(self, pair: KeyPair) -> None:
        self._kid = pair.kid
        self._key = serialization.load_pem_private_key(pair.private_pem, password=None)

    def sign(self, claims: dict[str, Any], *, typ: str | None = None) -> str:
        headers: dict[str, Any] = {"kid": self._kid}
        if typ is not None:
            headers["typ"] = typ
        return jwt.encode(claims, self._key, algorithm=ALG, headers=headers)  # type: ignore[arg-type]

    def access_token(
        self,
        *,
        issuer: str,
        client_id: str,
        scope: str,
        lifetime: int = 3600,
        issued_at: int | None = None,
    ) -> str:
        """An RFC 9068 access token as identity would issue it."""
        iat = int(time.time()) if issued_at is None else issued_at
        claims = {
            "iss": issuer,
            "sub": client_id,
            "client_id": client_id,
            "aud": AUDIENCES,
            "iat": iat,
            "exp": iat + lifetime,
            "jti": uuid.uuid4().hex,
            "scope": scope,
            "gaap_mode": "test",
        }
        return self.sign(claims, typ="at+jwt")

    def client_assertion(self, *, client_id: str, audience: str, lifetime: int = 120) -> str:
        """A ``private_key_jwt`` client assertion (RFC 7523) with a unique ``jti``."""
        iat = int(time.time())
        claims = {
            "iss": client_id,
            "sub": client_id,
            "aud": audience,
            "iat": iat,
            "exp": iat + lifetime,
            "jti": uuid.uuid4().hex,
        }
        return self.sign(claims)
