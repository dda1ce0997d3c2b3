"""Issuing access tokens to agencies."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import jwt

from services.identity.domain.access_tokens import claims_for_agency, header_for
from services.identity.domain.agencies import Agency
from services.identity.service_layer.keys import KeyStore


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    expires_in: int
    scope: str


class AccessTokenIssuer:
    def __init__(
        self,
        keys: KeyStore,
        *,
        issuer: str,
        ttl_seconds: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._keys = keys
        self._issuer = issuer
        self._ttl = ttl_seconds
        self._clock = clock

    def issue(self, agency: Agency, scopes: tuple[str, ...]) -> IssuedToken:
        signer = self._keys.signer()
        claims = claims_for_agency(
            agency, scopes, issuer=self._issuer, now=int(self._clock()), ttl=self._ttl
        )
        token = jwt.encode(
            claims, signer.private_key, algorithm=signer.alg, headers=header_for(signer.kid)
        )
        return IssuedToken(token, self._ttl, claims["scope"])
