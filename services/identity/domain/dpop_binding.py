"""Which tokens are bound to a DPoP key, and what a token request must prove
(RFC 9449 §5, §5.2, §10).

- an agency registered with ``dpop_bound_access_tokens``, and every ``fapi2``
  agency, gets only bound access tokens: a token request without a proof is
  refused ``invalid_dpop_proof`` (for every grant);
- a code whose authorization request named a key (``dpop_jkt``) is redeemed
  only with a proof by that key; a public agency's refresh token issued with a
  proof is bound to its key and refreshed only with a proof by it. A missing
  proof is ``invalid_dpop_proof``; a valid proof by another key is
  ``invalid_grant`` (the grant is bound elsewhere). Either refusal leaves the
  code or refresh token usable and revokes nothing.
"""

from __future__ import annotations

import hmac

from services.identity.domain.agencies import Agency
from services.identity.domain.citizen_tokens import GrantError

PROOF_REQUIRED = "DPoP proof required"


def proof_required(agency: Agency) -> bool:
    """RFC 9449 §5.2 ``dpop_bound_access_tokens``; FAPI 2.0 requires it too."""
    return agency.dpop_bound_access_tokens or agency.profile == "fapi2"


def check_required(agency: Agency, dpop_jkt: str | None) -> None:
    """Refuse a token request without a proof from an agency that must send one."""
    if dpop_jkt is None and proof_required(agency):
        raise GrantError(
            "invalid_dpop_proof",
            f"{PROOF_REQUIRED}: this agency's access tokens must be bound to a DPoP key",
        )


def check_bound(bound_to: str | None, dpop_jkt: str | None, what: str) -> None:
    """A grant bound to ``bound_to`` needs a proof by that key (``dpop_jkt``)."""
    if bound_to is None:
        return
    if dpop_jkt is None:
        raise GrantError(
            "invalid_dpop_proof", f"{PROOF_REQUIRED}: the {what} is bound to a DPoP key"
        )
    if not hmac.compare_digest(bound_to.encode(), dpop_jkt.encode()):
        raise GrantError("invalid_grant", f"the {what} is bound to another DPoP key")


def refresh_binding(agency: Agency, dpop_jkt: str | None) -> str | None:
    """The key a new refresh token is bound to: a public agency's proof key
    (RFC 9449 §5); a confidential agency's refresh tokens are already bound to
    its client authentication and stay unbound."""
    return dpop_jkt if agency.public else None
