"""An agency's credentials after registration: rotating and revoking its client
secret, replacing its JWK Set, going live.

Rules:

- A secret agency holds at most two secrets. Rotating issues a new one (shown
  once) and keeps the one it replaces working until ``expires_at`` (24 hours by
  default, 0 to 7 days), so the agency can deploy the new one without an outage;
  a third secret is never kept: rotating again drops the older previous one.
- Revoking ends the previous secret at once. The current secret cannot be
  revoked (rotate instead), so an agency never locks itself out by mistake.
- A fapi2 agency authenticates with keys only, and a public client has no
  credential: both are refused secrets (``FailedPrecondition``). A key-based
  agency has no secret to rotate either (it replaces its JWK Set instead).
- Replacing the JWK Set checks the keys as registration does (the FAPI 2.0 key
  rules for a fapi2 agency). A secret agency that uploads keys moves to
  ``private_key_jwt``: its secrets stop working at once.
- Going live (``test`` to ``live``) is one way. The test secret keeps working
  for the overlap as the previous secret, and the agency has no current secret
  until someone rotates: the new one is a ``gaap_live_`` secret. Nothing stores
  a secret in clear to hand over later.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from services.identity.domain.agencies import (
    SECRET_METHODS,
    Agency,
    PreviousSecret,
    hash_secret,
    jwks_violations,
    new_client_secret,
)
from services.runtime.errors import FailedPrecondition, FieldViolation, InvalidArgument

DEFAULT_OVERLAP = timedelta(hours=24)
MAX_OVERLAP = timedelta(days=7)


@dataclass(frozen=True)
class RotatedSecret:
    """The agency after rotation, and its new secret in clear: shown once."""

    agency: Agency
    client_secret: str


def rotate_secret(
    agency: Agency, now: datetime, overlap: timedelta = DEFAULT_OVERLAP
) -> RotatedSecret:
    _require_secret_agency(agency)
    if not timedelta(0) <= overlap <= MAX_OVERLAP:
        raise InvalidArgument.from_violations(
            [FieldViolation("previous_secret_ttl", "0 seconds to 7 days")]
        )
    secret = new_client_secret(agency.mode)
    previous = agency.previous_secret
    if agency.secret_hash is not None:
        previous = (
            PreviousSecret(
                hash=agency.secret_hash,
                created_at=agency.secret_created_at or agency.created_at,
                last_used_at=agency.secret_last_used_at,
                expires_at=now + overlap,
            )
            if overlap
            else None
        )
    rotated = replace(
        agency,
        secret_hash=hash_secret(secret),
        secret_created_at=now,
        secret_last_used_at=None,
        previous_secret=previous,
    )
    return RotatedSecret(rotated, secret)


def revoke_previous_secret(agency: Agency, now: datetime) -> Agency:
    _require_secret_agency(agency)
    if agency.live_previous_secret(now) is None:
        raise FailedPrecondition("the agency has no previous client secret to revoke")
    return replace(agency, previous_secret=None)


def replace_jwks(agency: Agency, jwks: Mapping[str, Any]) -> Agency:
    if agency.public:
        raise FailedPrecondition("a public client holds no credential, so no keys")
    violations = [
        FieldViolation(v.field.replace("jwks", "jwks_json", 1), v.description)
        for v in jwks_violations(jwks, fapi2=agency.profile == "fapi2")
    ]
    if violations:
        raise InvalidArgument.from_violations(violations)
    return replace(
        agency,
        jwks=dict(jwks),
        auth_methods=("private_key_jwt",),
        secret_hash=None,
        secret_created_at=None,
        secret_last_used_at=None,
        previous_secret=None,
    )


def go_live(agency: Agency, now: datetime, overlap: timedelta = DEFAULT_OVERLAP) -> Agency:
    """``agency`` in live mode; idempotent for an agency already live."""
    if agency.mode == "live":
        return agency
    if agency.disabled:
        raise FailedPrecondition("a disabled agency cannot go live")
    live = replace(agency, mode="live")
    if agency.secret_hash is None:
        return live
    return replace(
        live,
        secret_hash=None,
        secret_created_at=None,
        secret_last_used_at=None,
        previous_secret=PreviousSecret(
            hash=agency.secret_hash,
            created_at=agency.secret_created_at or agency.created_at,
            last_used_at=agency.secret_last_used_at,
            expires_at=now + overlap,
        ),
    )


def _require_secret_agency(agency: Agency) -> None:
    if agency.profile == "fapi2":
        raise FailedPrecondition("a fapi2 agency authenticates with its keys only, never a secret")
    if agency.auth_methods != SECRET_METHODS:
        raise FailedPrecondition(
            "the agency does not authenticate with a client secret "
            "(public clients have none; key-based agencies replace their JWK Set)"
        )
