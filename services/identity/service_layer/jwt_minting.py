"""The JWTs identity signs for citizens' sign-ins: access tokens (RFC 9068) and
ID tokens (OIDC Core §2), signed with joserfc, the JOSE library authlib is built on.

What goes into each is decided here; which key signs is the key store's
(``keys.KeyStore.signer``), and what is recorded about them is the use cases'.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from authlib.oidc.core.util import create_half_hash
from joserfc import jwt

from services.identity.domain.agencies import Agency
from services.identity.domain.citizen_tokens import Grant
from services.identity.service_layer.keys import Signer
from services.runtime.access_tokens import ACCESS_TOKEN_TYPE


class Signers(Protocol):
    def signer(self, alg: str | None = None) -> Signer: ...


def sign(signer: Signer, claims: dict[str, Any], typ: str) -> str:
    """``claims`` as a compact JWS with the key's ``kid`` and the given ``typ``."""
    header = {"alg": signer.alg, "kid": signer.kid, "typ": typ}
    return jwt.encode(header, claims, signer.jwk, algorithms=[signer.alg])


class CitizenJwts:
    def __init__(self, keys: Signers, *, issuer: str, access_ttl: int, id_token_ttl: int) -> None:
        self._keys = keys
        self.issuer = issuer
        self.userinfo_audience = issuer + "/userinfo"
        self.access_ttl = access_ttl
        self._id_ttl = id_token_ttl

    def ready(self, agency: Agency) -> None:
        """Fail now, not half-way through a transaction, when a key is missing
        (and load the keys before one starts: see ``KeyStore``)."""
        self._keys.signer()
        self._keys.signer(agency.id_token_alg)

    def access_token(
        self,
        agency: Agency,
        grant: Grant,
        *,
        subject: str,
        jti: str,
        now: datetime,
        dpop_jkt: str | None = None,
    ) -> str:
        """``dpop_jkt``: the token is bound to that DPoP key (``cnf.jkt``, RFC 9449 §6)."""
        iat = int(now.timestamp())
        claims = {
            "iss": self.issuer,
            "sub": subject,
            "client_id": agency.client_id,
            "aud": [self.userinfo_audience],
            "iat": iat,
            "exp": iat + self.access_ttl,
            "jti": jti,
            "scope": " ".join(grant.scopes),
            "gaap_mode": agency.mode,
            **_session_claims(grant),
        }
        if dpop_jkt is not None:
            claims["cnf"] = {"jkt": dpop_jkt}
        return sign(self._keys.signer(), claims, ACCESS_TOKEN_TYPE)

    def id_token(
        self,
        agency: Agency,
        grant: Grant,
        *,
        subject: str,
        access_token: str,
        nonce: str | None,
        released: dict[str, Any],
        now: datetime,
    ) -> str:
        """``released``: the personal claims asked for the ID token and consented."""
        iat = int(now.timestamp())
        signer = self._keys.signer(agency.id_token_alg)
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": subject,
            "aud": agency.client_id,
            "iat": iat,
            "exp": iat + self._id_ttl,
            "at_hash": at_hash(access_token, signer.alg),
            **_session_claims(grant),
        }
        if nonce:
            claims["nonce"] = nonce
        claims.update(released)
        return sign(signer, claims, "JWT")


def at_hash(access_token: str, alg: str) -> str:
    """OIDC Core §3.1.3.6: the left half of the access token's hash, with the
    hash of the ID token's algorithm (SHA-256 for every algorithm identity signs with)."""
    half = create_half_hash(access_token, alg)
    if half is None:
        raise ValueError(f"no at_hash for algorithm {alg}")
    return bytes(half).decode("ascii")


def _session_claims(grant: Grant) -> dict[str, Any]:
    """How and when the citizen signed in, in both tokens."""
    return {
        "auth_time": int(grant.auth_time.timestamp()),
        "acr": grant.acr,
        "amr": grant.amr,
        "sid": grant.sid,
    }
