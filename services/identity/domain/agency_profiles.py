"""The security profiles an agency registers under, and what the FAPI 2.0 one
enforces (FAPI 2.0 Security Profile §5.3, §5.4): ``private_key_jwt`` only, keys
usable only with ES256 or PS256, ES256 ID tokens, pushed authorization requests
and DPoP-bound access tokens. Authorization codes live at most 60 seconds for
every agency (``CODE_TTL``), so the profile needs nothing more for them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from cryptography.hazmat.primitives.asymmetric import rsa
from jwt import PyJWK

from services.runtime.errors import FieldViolation

Profile = Literal["standard", "fapi2"]
PROFILES: tuple[Profile, ...] = ("standard", "fapi2")
# FAPI 2.0 §5.4.1: PS256 or ES256 only (RS256's PKCS#1 v1.5 padding is out); what
# a fapi2 agency's client assertions and request objects may be signed with.
FAPI2_ALGORITHMS = ("ES256", "PS256")
MIN_RSA_BITS = 2048  # FAPI 2.0 §5.4.1: RSA keys of at least 2048 bits

# What the profile sets on the agency; it cannot be relaxed while it applies.
IMPLIED = ("require_pushed_authorization_requests", "dpop_bound_access_tokens")


def profile_violations(profile: str) -> list[FieldViolation]:
    if profile not in PROFILES:
        return [FieldViolation("profile", "must be 'standard' or 'fapi2'")]
    return []


def fapi2_violations(
    *,
    public: bool,
    jwks: Mapping[str, Any] | None,
    id_token_alg: str,
    flags: Mapping[str, bool | None],
) -> list[FieldViolation]:
    """Why an agency with these settings cannot be under the fapi2 profile.
    ``flags``: the implied requirements as asked for (None: not asked, so set)."""
    violations = []
    if public:
        violations.append(
            FieldViolation(
                "public", "the fapi2 profile admits no public client: private_key_jwt only"
            )
        )
    elif jwks is None:
        violations.append(
            FieldViolation(
                "jwks",
                "the fapi2 profile authenticates agencies by private_key_jwt only: "
                "register a JWK Set instead of a client secret",
            )
        )
    if id_token_alg == "RS256":
        violations.append(
            FieldViolation("id_token_alg", "the fapi2 profile signs ID tokens with ES256 only")
        )
    for name in IMPLIED:
        if flags.get(name) is False:
            violations.append(FieldViolation(name, "the fapi2 profile requires it"))
    return violations


def fapi2_key_violations(field: str, raw: Mapping[str, Any]) -> list[FieldViolation]:
    """Why a usable public JWK could be used with an algorithm other than ES256
    or PS256 (FAPI 2.0 §5.4.1; RS256's PKCS#1 v1.5 padding is out): an EC key off
    P-256, an RSA key whose ``alg`` is not PS256 (without it, RS256 would verify
    too) or of fewer than 2048 bits."""
    if raw.get("kty") == "EC":
        # A key's curve fixes its algorithm (PyJWK refuses a mismatched alg).
        if raw.get("crv") != "P-256":
            return [FieldViolation(f"{field}.crv", "the fapi2 profile takes EC keys on P-256 only")]
        return []
    violations = []
    if raw.get("alg") != "PS256":
        violations.append(
            FieldViolation(
                f"{field}.alg",
                "the fapi2 profile takes RSA keys only with alg PS256 (RS256 is refused)",
            )
        )
    key = PyJWK(dict(raw)).key  # usable: jwks_violations tried it first
    if isinstance(key, rsa.RSAPublicKey) and key.key_size < MIN_RSA_BITS:
        violations.append(
            FieldViolation(
                field, f"the fapi2 profile takes RSA keys of at least {MIN_RSA_BITS} bits"
            )
        )
    return violations
