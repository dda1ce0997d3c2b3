"""The authorization request (OIDC Core §3.1.2), checked before anything is shown.

Two kinds of error: those found before the client and its redirect URI are known
to be genuine are shown on an error page and never redirected (RFC 9700 §4.11,
open redirectors); all others go back to the client's redirect URI.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from services.identity.domain import assurance, disclosure
from services.identity.domain.agencies import Agency

SUPPORTED_PROMPTS = frozenset({"none", "login", "consent"})
DISPLAYS = frozenset({"page", "popup", "touch", "wap"})
_CHALLENGE = re.compile(r"[A-Za-z0-9_-]{43}")  # base64url of a SHA-256 digest, fullmatch
_THUMBPRINT = _CHALLENGE  # so is a JWK thumbprint (RFC 7638)
MAX_STATE = 2048
MAX_NONCE = 500


class AuthorizationError(Exception):
    def __init__(self, error: str, description: str, *, redirectable: bool = True) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.redirectable = redirectable


@dataclass(frozen=True)
class AuthorizationRequest:
    client_id: str
    redirect_uri: str
    scopes: tuple[str, ...]
    state: str | None
    nonce: str | None
    code_challenge: str
    prompt: frozenset[str]
    max_age: int | None
    login_hint: str | None
    ui_locales: tuple[str, ...]
    claims_locales: tuple[str, ...]
    acr: str
    acr_essential: bool
    display: str
    claims: Mapping[str, Any] | None
    # RFC 9449 §10: the thumbprint of the DPoP key that alone may redeem the code.
    dpop_jkt: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "scopes": list(self.scopes),
            "state": self.state,
            "nonce": self.nonce,
            "code_challenge": self.code_challenge,
            "prompt": sorted(self.prompt),
            "max_age": self.max_age,
            "login_hint": self.login_hint,
            "ui_locales": list(self.ui_locales),
            "claims_locales": list(self.claims_locales),
            "acr": self.acr,
            "acr_essential": self.acr_essential,
            "display": self.display,
            "claims": self.claims,
            "dpop_jkt": self.dpop_jkt,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AuthorizationRequest:
        return cls(
            **{
                **data,
                "scopes": tuple(data["scopes"]),
                "prompt": frozenset(data["prompt"]),
                "ui_locales": tuple(data["ui_locales"]),
                "claims_locales": tuple(data["claims_locales"]),
            }
        )


def check_client(params: Mapping[str, str], agency: Agency | None) -> str:
    """The client and redirect URI; failures here are shown, never redirected."""
    if agency is None or agency.disabled:
        raise AuthorizationError(
            "invalid_request", "unknown or disabled client_id", redirectable=False
        )
    redirect_uri = params.get("redirect_uri")
    if not redirect_uri:
        raise AuthorizationError("invalid_request", "redirect_uri is required", redirectable=False)
    if redirect_uri not in agency.redirect_uris:  # exact string match, RFC 9700 §2.1
        raise AuthorizationError(
            "invalid_request",
            "redirect_uri is not registered for this client",
            redirectable=False,
        )
    return redirect_uri


def parse(params: Mapping[str, str], agency: Agency) -> AuthorizationRequest:
    """Validate the rest of the request for a known client and redirect URI.
    ``params`` are the request's own: a request object's claims once verified
    (request_objects.unpack), a pushed request's are taken as pushed."""
    redirect_uri = check_client(params, agency)
    response_type = params.get("response_type")
    if not response_type:
        raise AuthorizationError("invalid_request", "response_type is required")
    if response_type != "code":
        raise AuthorizationError(
            "unsupported_response_type", "only the authorization code flow (code) is supported"
        )
    if params.get("response_mode", "query") != "query":
        raise AuthorizationError("invalid_request", "only response_mode=query is supported")
    scopes = tuple(dict.fromkeys(params.get("scope", "").split()))
    if "openid" not in scopes:
        raise AuthorizationError("invalid_scope", "the openid scope is required")
    unknown = [s for s in scopes if s not in agency.scopes]
    if unknown:
        raise AuthorizationError(
            "invalid_scope", f"scope not allowed for this client: {' '.join(unknown)}"
        )
    state = params.get("state")
    if state is not None and len(state) > MAX_STATE:
        raise AuthorizationError("invalid_request", "state is too long")
    nonce = params.get("nonce")
    if nonce is not None and not 0 < len(nonce) <= MAX_NONCE:
        raise AuthorizationError("invalid_request", "nonce must be 1 to 500 characters")
    challenge = _pkce(params)
    prompt = frozenset(params.get("prompt", "").split())
    if not prompt <= SUPPORTED_PROMPTS:
        raise AuthorizationError("invalid_request", "unknown prompt value")
    if "none" in prompt and len(prompt) > 1:
        raise AuthorizationError("invalid_request", "prompt=none cannot be combined")
    # Claims the registration does not cover are dropped here, before anyone can
    # be asked for them (disclosure.py): essential or not, they are unavailable.
    claims = disclosure.restrict_request(_claims(params.get("claims")), agency.scopes)
    acr, essential = _acr(params, claims)
    display = params.get("display")  # absent or unknown: a page, below
    return AuthorizationRequest(
        client_id=agency.client_id,
        redirect_uri=redirect_uri,
        scopes=scopes,
        state=state,
        nonce=nonce,
        code_challenge=challenge,
        prompt=prompt,
        max_age=_max_age(params.get("max_age")),
        login_hint=(params.get("login_hint") or None),
        ui_locales=tuple(params.get("ui_locales", "").split()),
        claims_locales=tuple(params.get("claims_locales", "").split()),
        acr=acr,
        acr_essential=essential,
        display=display if display in DISPLAYS else "page",
        claims=claims,
        dpop_jkt=_dpop_jkt(params.get("dpop_jkt")),
    )


def _pkce(params: Mapping[str, str]) -> str:
    challenge = params.get("code_challenge")
    method = params.get("code_challenge_method")
    if not challenge:
        raise AuthorizationError("invalid_request", "PKCE is required: send code_challenge (S256)")
    if method != "S256":
        raise AuthorizationError(
            "invalid_request", "code_challenge_method must be S256 (plain is not accepted)"
        )
    if not _CHALLENGE.fullmatch(challenge):
        raise AuthorizationError("invalid_request", "code_challenge is not an S256 challenge")
    return challenge


def _dpop_jkt(raw: str | None) -> str | None:
    """RFC 9449 §10: the JWK SHA-256 thumbprint (RFC 7638) of the DPoP key that
    will redeem the code, base64url without padding."""
    if raw is None:
        return None
    if not _THUMBPRINT.fullmatch(raw):
        raise AuthorizationError(
            "invalid_request", "dpop_jkt must be a JWK SHA-256 thumbprint (43 base64url characters)"
        )
    return raw


def _max_age(raw: str | None) -> int | None:
    if raw is None or raw == "":
        return None
    # isascii: str.isdigit() also takes "²", which int() then refuses with a ValueError.
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 10:
        raise AuthorizationError("invalid_request", "max_age must be a non-negative integer")
    return int(raw)


def _claims(raw: str | None) -> dict[str, Any] | None:
    if not raw:
        return None
    try:
        claims = json.loads(raw)
    except ValueError:
        raise AuthorizationError("invalid_request", "claims is not valid JSON") from None
    if not isinstance(claims, dict) or not all(
        isinstance(claims.get(k, {}), dict | None) for k in ("id_token", "userinfo")
    ):
        raise AuthorizationError("invalid_request", "claims must be an object of objects")
    return {k: claims[k] or {} for k in ("id_token", "userinfo") if k in claims}


def _acr(params: Mapping[str, str], claims: Mapping[str, Any] | None) -> tuple[str, bool]:
    wanted = assurance.requested_level(params.get("acr_values"), params.get("vtr"))
    if wanted is None:
        raise AuthorizationError("invalid_request", "vtr names no supported level (Cl, Cl.Cm)")
    essential = False
    acr_claim = ((claims or {}).get("id_token") or {}).get("acr")
    if isinstance(acr_claim, dict):
        values = acr_claim.get("values") or ([acr_claim["value"]] if "value" in acr_claim else [])
        known = [v for v in values if v in assurance.LEVELS]
        if known:
            wanted = max(wanted, min(known, key=assurance.LEVELS.index), key=assurance.LEVELS.index)
        essential = bool(acr_claim.get("essential"))
    return wanted, essential
