"""Pushed authorization requests (RFC 9126): what a pushed request is and when
it may be taken.

A ``request_uri`` is ``urn:ietf:params:oauth:request_uri:`` followed by a
random value the service layer draws; only its SHA-256 is stored. A pushed
request is used once, within ``LIFETIME``, by the agency that pushed it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from services.identity.domain import authorization
from services.identity.domain.agencies import Agency
from services.identity.domain.authorization import AuthorizationError, AuthorizationRequest

URN_PREFIX = "urn:ietf:params:oauth:request_uri:"
LIFETIME = timedelta(seconds=60)
MAX_REQUEST_URI = 200
REQUIRED = "pushed authorization request required"


@dataclass(frozen=True)
class StoredPush:
    client_id: str
    request: AuthorizationRequest
    expires_at: datetime


def uri_hash(request_uri: str) -> str:
    return hashlib.sha256(request_uri.encode()).hexdigest()


def parse_push(params: Mapping[str, str], agency: Agency) -> AuthorizationRequest:
    """A pushed request is checked by the authorization endpoint's own rules;
    it cannot itself name a ``request_uri`` (RFC 9126 §2.1)."""
    refuse_request_uri(params)
    return authorization.parse(params, agency)


def refuse_request_uri(params: Mapping[str, str]) -> None:
    if "request_uri" in params:
        raise AuthorizationError("invalid_request", "request_uri cannot be pushed")


def check_request_uri(request_uri: str) -> None:
    """Refuse, before any lookup, what no push ever issued."""
    if not request_uri.startswith(URN_PREFIX) or len(request_uri) > MAX_REQUEST_URI:
        raise AuthorizationError("invalid_request", "request_uri is not valid", redirectable=False)


def taken(stored: StoredPush | None, client_id: str, now: datetime) -> AuthorizationRequest:
    """The pushed request, if it may still be used by ``client_id`` at ``now``.
    Every refusal is shown, never redirected: the redirect URI is unknown."""
    if stored is None or stored.client_id != client_id:
        raise AuthorizationError(
            "invalid_request", "request_uri is unknown or already used", redirectable=False
        )
    if stored.expires_at <= now:
        raise AuthorizationError("invalid_request", "request_uri has expired", redirectable=False)
    return stored.request


def required(agency: Agency, for_all: bool) -> bool:
    """The operator's setting, the agency's, or the FAPI 2.0 profile (§5.3.2.2: PAR only)."""
    return for_all or agency.require_pushed_authorization_requests or agency.profile == "fapi2"


def bind_dpop_key(request: AuthorizationRequest, proof_jkt: str | None) -> AuthorizationRequest:
    """The request bound to the key of the DPoP proof sent with the push
    (RFC 9449 §10.1); a ``dpop_jkt`` naming another key is refused."""
    if proof_jkt is None:
        return request
    if request.dpop_jkt is not None and request.dpop_jkt != proof_jkt:
        raise AuthorizationError(
            "invalid_dpop_proof", "dpop_jkt does not match the key of the DPoP proof"
        )
    return replace(request, dpop_jkt=proof_jkt)
