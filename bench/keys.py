"""EC P-256 keys and ES256 JWTs for the benchmarks' tokens, client assertions and DPoP proofs."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
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
        jkt: str | None = None,
    ) -> str:
        """An RFC 9068 access token as identity would issue it; ``jkt``: bound to
        that DPoP key (``cnf.jkt``)."""
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
        if jkt is not None:
            claims["cnf"] = {"jkt": jkt}
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


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


class DpopSigner:
    """Signs DPoP proofs (RFC 9449) with one key, as an agency's client would.

    The header (``typ``, ``alg``, the public ``jwk``) is the same for every
    proof, so it is encoded once; each proof is then one ES256 signature with
    ``cryptography`` (about half the client CPU of ``jwt.encode``)."""

    def __init__(self, pair: KeyPair) -> None:
        key = serialization.load_pem_private_key(pair.private_pem, password=None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        self._key = key
        jwk = {name: pair.public_jwk[name] for name in ("crv", "kty", "x", "y")}
        canonical = json.dumps(jwk, separators=(",", ":"), sort_keys=True)
        self.jkt = _b64(hashlib.sha256(canonical.encode()).digest())  # RFC 7638
        header = {"typ": "dpop+jwt", "alg": ALG, "jwk": jwk}
        self._header = _b64(json.dumps(header, separators=(",", ":")).encode())

    def proof(self, uri: str, access_token: str | None = None, *, method: str = "POST") -> str:
        """A proof for one request, with a unique ``jti``, ``iat`` now and, with
        ``access_token``, its hash as ``ath``."""
        claims: dict[str, Any] = {
            "htm": method,
            "htu": uri,
            "iat": int(time.time()),
            "jti": uuid.uuid4().hex,
        }
        if access_token is not None:
            claims["ath"] = _b64(hashlib.sha256(access_token.encode("ascii")).digest())
        payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
        signing_input = f"{self._header}.{payload}"
        der = self._key.sign(signing_input.encode("ascii"), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        return f"{signing_input}.{_b64(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"
