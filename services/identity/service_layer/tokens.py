"""Issuing access tokens to agencies."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from services.identity.domain.access_tokens import claims_for_agency
from services.identity.domain.agencies import Agency
from services.identity.domain.dpop_binding import check_required
from services.identity.service_layer.jwt_minting import Signers, sign
from services.runtime.access_tokens import ACCESS_TOKEN_TYPE


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    expires_in: int
    scope: str


class AccessTokenIssuer:
    def __init__(
        self,
        keys: Signers,
        *,
        issuer: str,
        ttl_seconds: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._keys = keys
        self._issuer = issuer
        self._ttl = ttl_seconds
        self._clock = clock

    def issue(
        self,
        agency: Agency,
        scopes: tuple[str, ...],
        dpop_jkt: str | None = None,
        *,
        actor: str | None = None,
        max_ttl: int | None = None,
    ) -> IssuedToken:
        """``dpop_jkt``: the thumbprint of the agency's DPoP key; the token is then
        bound to it (``cnf.jkt``, RFC 9449 §6) and useless without that key. An
        agency that must bind its tokens (``dpop_bound_access_tokens``, ``fapi2``)
        gets none without it: ``GrantError`` ``invalid_dpop_proof``.

        ``actor``: the client acting for ``agency`` (token exchange), named in the
        ``act`` claim (RFC 8693 §4.1); ``max_ttl`` shortens such a token's life."""
        check_required(agency, dpop_jkt)
        signer = self._keys.signer()
        ttl = self._ttl if max_ttl is None else min(self._ttl, max_ttl)
        claims = claims_for_agency(
            agency, scopes, issuer=self._issuer, now=int(self._clock()), ttl=ttl
        )
        if dpop_jkt is not None:
            claims["cnf"] = {"jkt": dpop_jkt}
        if actor is not None:
            claims["act"] = {"sub": actor}
        token = sign(signer, claims, ACCESS_TOKEN_TYPE)
        return IssuedToken(token, ttl, claims["scope"])
