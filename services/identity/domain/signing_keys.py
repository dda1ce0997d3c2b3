"""identity's signing keys: generation, which one signs, which ones are published.

Every key has a ``kid``. A key is published in the JWKS from its creation, signs
from ``activates_at`` (so resource servers can learn it first), stops signing at
``retires_at`` and is unpublished at ``expires_at``, after every token it signed
has expired. Rotation (issue: OIDC provider) only sets these times.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm, RSAPSSAlgorithm

SIGNING_ALGORITHMS = ("ES256", "PS256", "RS256")


@dataclass(frozen=True)
class SigningKey:
    kid: str
    alg: str
    private_pem: bytes
    public_jwk: dict[str, Any]
    created_at: datetime
    activates_at: datetime
    retires_at: datetime | None = None
    expires_at: datetime | None = None

    def signs_at(self, now: datetime) -> bool:
        return self.activates_at <= now and (self.retires_at is None or now < self.retires_at)

    def published_at(self, now: datetime) -> bool:
        return self.expires_at is None or now < self.expires_at


class KeyRepository(Protocol):
    def add(self, key: SigningKey) -> None: ...
    def all(self) -> Sequence[SigningKey]: ...


def generate(alg: str, now: datetime) -> SigningKey:
    if alg not in SIGNING_ALGORITHMS:
        raise ValueError(f"unsupported signing algorithm {alg}")
    private: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
    if alg == "ES256":
        private = ec.generate_private_key(ec.SECP256R1())
        jwk = ECAlgorithm.to_jwk(private.public_key(), as_dict=True)
    else:
        private = rsa.generate_private_key(public_exponent=65537, key_size=3072)
        algo = RSAPSSAlgorithm if alg == "PS256" else RSAAlgorithm
        jwk = algo.to_jwk(private.public_key(), as_dict=True)
    kid = f"{now:%Y%m%d}-{secrets.token_hex(6)}"
    jwk.update({"kid": kid, "alg": alg, "use": "sig"})
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return SigningKey(
        kid=kid, alg=alg, private_pem=pem, public_jwk=jwk, created_at=now, activates_at=now
    )


def active_key(
    keys: Sequence[SigningKey], now: datetime, alg: str | None = None
) -> SigningKey | None:
    """The key that signs now: the most recently activated one that is not retired
    (of algorithm ``alg`` when given)."""
    candidates = [k for k in keys if k.signs_at(now) and (alg is None or k.alg == alg)]
    return max(candidates, key=lambda k: (k.activates_at, k.kid), default=None)


def jwks(keys: Sequence[SigningKey], now: datetime) -> dict[str, Any]:
    published = sorted(
        (k for k in keys if k.published_at(now)), key=lambda k: k.created_at, reverse=True
    )
    return {"keys": [k.public_jwk for k in published]}
