"""What identity puts in an agency's access token (RFC 9068)."""

from __future__ import annotations

import secrets
from typing import Any

from services.identity.domain.agencies import Agency
from services.identity.domain.scopes import audiences_for, is_service_scope


def claims_for_agency(
    agency: Agency, scopes: tuple[str, ...], *, issuer: str, now: int, ttl: int
) -> dict[str, Any]:
    return {
        "iss": issuer,
        "sub": agency.client_id,
        "client_id": agency.client_id,
        "aud": audiences_for(scopes),
        "iat": now,
        "exp": now + ttl,
        "jti": secrets.token_urlsafe(16),
        "scope": " ".join(scopes),
        "gaap_mode": agency.mode,
        # Services show it to citizens (the payment page) without asking identity.
        "gaap_agency_name": agency.name,
    }


def granted_scopes(agency: Agency, requested: str | None) -> tuple[str, ...]:
    """No scope asked: everything the agency may have; otherwise exactly what it asked."""
    if not requested:
        return tuple(s for s in agency.scopes if is_service_scope(s))
    return tuple(dict.fromkeys(requested.split()))
