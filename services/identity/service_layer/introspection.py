"""Token introspection (RFC 7662): is this token active, and what does it carry?

An agency may introspect only tokens issued to it; any other token, and any
token that is expired, forged, revoked or whose agency is disabled, is simply
``{"active": false}``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from services.identity.service_layer.citizen_tokens import CitizenTokens
from services.identity.service_layer.token_ports import ActiveAgencies
from services.runtime.access_tokens import AccessTokenVerifier
from services.runtime.dpop import bound_key
from services.runtime.errors import Unauthenticated

INACTIVE: dict[str, Any] = {"active": False}


AGENCY_STATUS_SECONDS = 1.0


class Introspector:
    def __init__(
        self,
        verifier: AccessTokenVerifier,
        tokens: CitizenTokens,
        registry: ActiveAgencies,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._verifier = verifier
        self._tokens = tokens
        self._registry = registry
        self._clock = clock
        self._active: dict[str, tuple[float, bool]] = {}

    def _agency_active(self, client_id: str) -> bool:
        """Whether the agency is enabled, remembered for a second: introspection is
        a hot path, and a disabled agency shows as such within that second."""
        now = self._clock()
        known = self._active.get(client_id)
        if known is not None and known[0] > now:
            return known[1]
        active = self._registry.find_active(client_id) is not None
        if len(self._active) > 10_000:
            self._active.clear()
        self._active[client_id] = (now + AGENCY_STATUS_SECONDS, active)
        return active

    def introspect(self, token: str, caller: str) -> dict[str, Any]:
        if not token or len(token) > 8192:
            return INACTIVE
        if token.startswith("rt_"):
            return self._refresh(token, caller)
        try:
            principal, claims = self._verifier.verify_with_claims(token)
            jkt = bound_key(claims)
        except Unauthenticated:
            return INACTIVE
        if principal.client_id != caller:
            return INACTIVE
        citizen = self._tokens.userinfo_audience in claims["aud"]
        if citizen and self._tokens.is_revoked(principal.token_id):
            return INACTIVE
        if not self._agency_active(principal.client_id):
            return INACTIVE
        keep = ("scope", "client_id", "sub", "exp", "iat", "iss", "aud", "jti")
        # An agency token from token exchange names who acted for the agency (RFC 8693 §4.1).
        extra = ("acr", "amr", "auth_time", "sid") if citizen else ("gaap_mode", "act")
        answer: dict[str, Any] = {
            "active": True,
            "token_type": "Bearer",
            **{k: claims[k] for k in (*keep, *extra) if k in claims},
        }
        if jkt is not None:  # RFC 9449 §6.2: the key a resource server must check
            answer["token_type"] = "DPoP"
            answer["cnf"] = {"jkt": jkt}
        return answer

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
            # a public agency's refresh token bound to its DPoP key (RFC 9449 §5)
            **({"cnf": {"jkt": row.dpop_jkt}} if row.dpop_jkt else {}),
        }
