"""identity's signing keys: generation, which one signs, which ones are published.

Every key has a ``kid``. A key is published in the JWKS from its creation, signs
from ``activates_at`` (so resource servers can learn it first), stops signing at
``retires_at`` and is unpublished at ``expires_at``, after every token it signed
has expired. Rotation only sets these times, so every replica agrees on the
state of every key by reading them: no job has to run at the switch.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from joserfc.jwk import ECKey, RSAKey

from services.runtime.errors import FailedPrecondition

SIGNING_ALGORITHMS = ("ES256", "PS256", "RS256")
# What discovery advertises as id_token_signing_alg_values_supported: an agency
# may ask for any of them, so each always has a published key.
ID_TOKEN_ALGORITHMS = ("ES256", "RS256")


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


def generate(alg: str, now: datetime) -> SigningKey:
    if alg not in SIGNING_ALGORITHMS:
        raise ValueError(f"unsupported signing algorithm {alg}")
    private: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
    jwk: dict[str, Any]
    if alg == "ES256":
        private = ec.generate_private_key(ec.SECP256R1())
        jwk = dict(ECKey.import_key(private.public_key()).as_dict())
    else:
        private = rsa.generate_private_key(public_exponent=65537, key_size=3072)
        jwk = dict(RSAKey.import_key(private.public_key()).as_dict())
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


def first_keys(
    keys: Sequence[SigningKey], algs: Sequence[str], now: datetime, *, propagation: timedelta
) -> list[SigningKey]:
    """A first key for each of ``algs`` that has none signing or about to sign.

    It is published at once. It signs at once only if no key was ever stored:
    nothing has been served yet, so nobody holds a JWKS without it. Otherwise
    it signs after ``propagation``, like a rotated key, so a relying party or a
    replica holding the JWKS of a moment ago sees it before any token it signs.
    """
    ready = {
        k.alg for k in keys if k.published_at(now) and (k.retires_at is None or now < k.retires_at)
    }
    starts = now if not keys else now + propagation
    return [
        replace(generate(alg, now), activates_at=starts)
        for alg in dict.fromkeys(algs)
        if alg not in ready
    ]


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
    # RSA keys made by earlier versions (with pyjwt) carry key_ops; RFC 7517 section
    # 4.3 says not to publish it beside use, and strict relying parties (cryptojwt)
    # refuse the whole JWKS.
    return {"keys": [{n: v for n, v in k.public_jwk.items() if n != "key_ops"} for k in published]}


@dataclass(frozen=True)
class Rotation:
    """A new key (published now, signing from ``switch_at``) and the key it
    replaces (signing until ``switch_at``, published until its tokens expire)."""

    new: SigningKey
    retired: SigningKey

    @property
    def switch_at(self) -> datetime:
        return self.new.activates_at


def rotate(
    keys: Sequence[SigningKey],
    alg: str,
    now: datetime,
    *,
    propagation: timedelta,
    longest_token: timedelta,
) -> Rotation:
    """Plan the rotation of the ``alg`` key that signs now.

    ``propagation`` gives resource servers time to see the new key before any
    token is signed with it; ``longest_token`` is the longest lifetime of a
    token the retired key may have signed (with the verifiers' leeway), so it
    stays published until the last of them has expired.
    """
    current = active_key(keys, now, alg)
    if current is None:
        raise FailedPrecondition(f"no {alg} key signs now: there is nothing to rotate")
    pending = [k for k in keys if k.alg == alg and k.activates_at > now]
    if pending:
        raise FailedPrecondition(
            f"a rotation of the {alg} key is under way: {pending[0].kid} starts signing at "
            f"{pending[0].activates_at.isoformat()}; rotate again after that"
        )
    switch = now + propagation
    new = replace(generate(alg, now), activates_at=switch)
    retired = replace(current, retires_at=switch, expires_at=switch + longest_token)
    return Rotation(new, retired)


def status(key: SigningKey, now: datetime) -> str:
    """``pending`` (published, not signing yet), ``signing``, ``retired`` (published
    for verification only) or ``unpublished``."""
    if not key.published_at(now):
        return "unpublished"
    if key.signs_at(now):
        return "signing"
    return "pending" if now < key.activates_at else "retired"


def next_change(keys: Sequence[SigningKey], now: datetime) -> datetime | None:
    """The next time any key starts or stops signing or being published."""
    times = [
        t
        for k in keys
        for t in (k.activates_at, k.retires_at, k.expires_at)
        if t is not None and t > now
    ]
    return min(times, default=None)
