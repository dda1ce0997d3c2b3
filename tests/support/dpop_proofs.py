"""DPoP proofs for tests (RFC 9449 §4.2), good and deliberately bad: one EC key
per ``Prover``, any claim or header changed by hand."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from services.runtime.dpop import access_token_hash, thumbprint


class Prover:
    """A client's DPoP key: ``proof`` signs a proof for one request."""

    def __init__(self) -> None:
        self.private = ec.generate_private_key(ec.SECP256R1())
        self.public_jwk: dict[str, Any] = json.loads(ECAlgorithm.to_jwk(self.private.public_key()))
        self.jkt = thumbprint(self.public_jwk)

    def proof(
        self,
        htm: str,
        htu: str,
        access_token: str | None = None,
        *,
        nonce: str | None = None,
        iat: float | None = None,
        claims: dict[str, Any] | None = None,
        header: dict[str, Any] | None = None,
        alg: str = "ES256",
        key: Any = None,
    ) -> str:
        body: dict[str, Any] = {
            "htm": htm,
            "htu": htu,
            "iat": int(time.time() if iat is None else iat),
            "jti": uuid.uuid4().hex,
        }
        if access_token is not None:
            body["ath"] = access_token_hash(access_token)
        if nonce is not None:
            body["nonce"] = nonce
        body.update(claims or {})
        headers = {"typ": "dpop+jwt", "jwk": self.public_jwk, **(header or {})}
        return jwt.encode(
            body, key if key is not None else self.private, algorithm=alg, headers=headers
        )

    def with_private_jwk(self, htm: str, htu: str) -> str:
        """A proof whose ``jwk`` carries the private key (must be refused)."""
        private_jwk = json.loads(ECAlgorithm.to_jwk(self.private))
        return self.proof(htm, htu, header={"jwk": private_jwk})

    def hs256(self, htm: str, htu: str) -> str:
        """A proof MACed with a shared secret (a symmetric algorithm: refused)."""
        return self.proof(htm, htu, alg="HS256", key="a-shared-secret-of-32-bytes-long!")

    def unsigned(self, htm: str, htu: str) -> str:
        """A proof with ``alg`` none and no signature (refused)."""
        body = {"htm": htm, "htu": htu, "iat": int(time.time()), "jti": uuid.uuid4().hex}
        headers = {"typ": "dpop+jwt", "jwk": self.public_jwk}
        return jwt.encode(body, None, algorithm="none", headers=headers)  # type: ignore[arg-type]
