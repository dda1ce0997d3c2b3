"""Token introspection (RFC 7662): is this token active, and what does it carry?

An agency may introspect only tokens issued to it; any other token, and any
token that is expired, forged, revoked or whose agency is disabled, is simply
``{"active": false}``.
"""

from __future__ import annotations

from typing import Any

from services.identity.service_layer.agencies import AgencyRegistry
from services.identity.service_layer.citizen_tokens import CitizenTokens
from services.runtime.access_tokens import AccessTokenVerifier
from services.runtime.errors import Unauthenticated

INACTIVE: dict[str, Any] = {"active": False}


class Introspector:
    def __init__(
        self, verifier: AccessTokenVerifier, tokens: CitizenTokens, registry: AgencyRegistry
    ) -> None:
        self._verifier = verifier
        self._tokens = tokens
        self._registry = registry

    def introspect(self, token: str, caller: str) -> dict[str, Any]:
        if not token or len(token) > 8192:
            return INACTIVE
        if token.startswith("rt_"):
            return self._refresh(token, caller)
        try:
            principal, claims = self._verifier.verify_with_claims(token)
        except Unauthenticated:
            return INACTIVE
        if principal.client_id != caller:
            return INACTIVE
        citizen = self._tokens.userinfo_audience in claims["aud"]
        if citizen and self._tokens.is_revoked(principal.token_id):
            return INACTIVE
        if self._registry.find_active(principal.client_id) is None:
            return INACTIVE
        keep = ("scope", "client_id", "sub", "exp", "iat", "iss", "aud", "jti")
        extra = ("acr", "amr", "auth_time", "sid") if citizen else ("gaap_mode",)
        return {
            "active": True,
            "token_type": "Bearer",
            **{k: claims[k] for k in (*keep, *extra) if k in claims},
        }

    def _refresh(self, token: str, caller: str) -> dict[str, Any]:
        row = self._tokens.refresh_record(token)
        if row is None or row.client_id != caller or row.revoked_at or row.used_at:
            return INACTIVE
        if row.expires_at <= self._tokens.now():
            return INACTIVE
        return {
            "active": True,
            "token_type": "refresh_token",
            "client_id": row.client_id,
            "scope": row.scope,
            "exp": int(row.expires_at.timestamp()),
            "iat": int(row.created_at.timestamp()),
        }
