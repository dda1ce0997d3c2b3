"""Agencies: the OAuth clients of the platform and the tenants of every service."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Literal

from jwt import PyJWK
from jwt.exceptions import PyJWKError, PyJWTError

from services.identity.domain.agency_profiles import (
    Profile,
    fapi2_key_violations,
    fapi2_violations,
    profile_violations,
)
from services.identity.domain.scopes import KNOWN_SCOPES
from services.identity.domain.signing_keys import ID_TOKEN_ALGORITHMS
from services.runtime import urls
from services.runtime.egress import PUBLIC_ONLY, Egress
from services.runtime.errors import FieldViolation, InvalidArgument, NotFound

Mode = Literal["test", "live"]
AuthMethod = Literal["client_secret_basic", "client_secret_post", "private_key_jwt", "none"]
SubjectType = Literal["pairwise", "public"]
SecretSlot = Literal["current", "previous"]
SECRET_METHODS: tuple[AuthMethod, ...] = ("client_secret_basic", "client_secret_post")
ASSERTION_ALGORITHMS = ("ES256", "PS256", "RS256")
MAX_NAME = 200
MAX_REDIRECT_URIS = 20
# How stale a secret's "last used" may be: the token endpoint writes it at most
# once a minute per secret, not on every request.
LAST_USED_GRANULARITY = 60


@dataclass(frozen=True)
class PreviousSecret:
    """The secret a rotation replaced, still accepted until ``expires_at``."""

    hash: str
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None = None


@dataclass(frozen=True)
class Agency:
    client_id: str
    name: str
    mode: Mode
    scopes: tuple[str, ...]
    redirect_uris: tuple[str, ...]
    auth_methods: tuple[AuthMethod, ...]
    secret_hash: str | None
    jwks: Mapping[str, Any] | None
    created_at: datetime
    disabled_at: datetime | None = None
    # OpenID Connect client metadata, for agencies that sign citizens in.
    subject_type: SubjectType = "pairwise"
    sector_identifier: str | None = None
    id_token_alg: str = "ES256"
    post_logout_redirect_uris: tuple[str, ...] = ()
    backchannel_logout_uri: str | None = None
    # RFC 9126 §5: its authorization requests must be pushed first (/par).
    require_pushed_authorization_requests: bool = False
    # ``fapi2``: the FAPI 2.0 Security Profile's rules apply (agency_profiles).
    profile: Profile = "standard"
    # RFC 9101 §10.5: authorization requests only as signed request objects.
    require_signed_request_object: bool = False
    # RFC 9449 §5.2: access tokens only bound to a DPoP key.
    dpop_bound_access_tokens: bool = False
    # What citizens see on the consent page: a name (else ``name``) and an
    # https logo their browser loads (identity never fetches it).
    display_name: str | None = None
    logo_uri: str | None = None
    # The current secret's age and last use, and the one a rotation replaced.
    secret_created_at: datetime | None = None
    secret_last_used_at: datetime | None = None
    previous_secret: PreviousSecret | None = None

    @property
    def disabled(self) -> bool:
        return self.disabled_at is not None

    @property
    def public(self) -> bool:
        """A public client (a browser or native app) holds no credential."""
        return self.auth_methods == ("none",)

    @property
    def sector(self) -> str:
        """Pairwise subjects are per sector: agencies registered with the same
        sector identifier see the same ``sub``; by default each agency is its own."""
        return self.sector_identifier or self.client_id

    def check_secret(self, secret: str, now: datetime | None = None) -> bool:
        """Constant-time comparison of the secret's hash with the stored ones."""
        return self.matching_secret(secret, now or datetime.now(UTC)) is not None

    def matching_secret(self, secret: str, now: datetime) -> SecretSlot | None:
        """Which stored secret ``secret`` is: the current one, or the previous one
        before its end. Both hashes are compared, so the time taken says nothing."""
        hashed = hash_secret(secret)
        current = hmac.compare_digest(hashed, self.secret_hash or "")
        previous_secret = self.live_previous_secret(now)
        previous = hmac.compare_digest(hashed, previous_secret.hash if previous_secret else "")
        if current and self.secret_hash is not None:
            return "current"
        if previous and previous_secret is not None:
            return "previous"
        return None

    def live_previous_secret(self, now: datetime) -> PreviousSecret | None:
        previous = self.previous_secret
        return previous if previous is not None and now < previous.expires_at else None

    def allows_scopes(self, requested: Iterable[str]) -> bool:
        return set(requested) <= set(self.scopes)

    def disable(self, now: datetime) -> Agency:
        return self if self.disabled_at else replace(self, disabled_at=now)


@dataclass(frozen=True)
class NewAgency:
    """An agency just created, with its secret in clear: shown once, then gone."""

    agency: Agency
    client_secret: str | None


def hash_secret(secret: str) -> str:
    # Secrets are 256-bit random values, so a fast hash cannot be brute-forced;
    # a slow password hash would only slow down every token request.
    return hashlib.sha256(secret.encode()).hexdigest()


def new_client_id() -> str:
    return "ag_" + secrets.token_hex(12)


def new_client_secret(mode: Mode) -> str:
    # The prefix tells secret scanners (and people) what leaked and in which mode.
    return f"gaap_{mode}_" + secrets.token_urlsafe(32)


def register(
    *,
    name: str,
    scopes: Sequence[str],
    redirect_uris: Sequence[str] = (),
    mode: str = "test",
    jwks: Mapping[str, Any] | None = None,
    public: bool = False,
    subject_type: str = "pairwise",
    sector_identifier: str | None = None,
    id_token_alg: str = "ES256",
    post_logout_redirect_uris: Sequence[str] = (),
    backchannel_logout_uri: str | None = None,
    profile: str = "standard",
    require_pushed_authorization_requests: bool | None = None,
    require_signed_request_object: bool = False,
    dpop_bound_access_tokens: bool | None = None,
    display_name: str | None = None,
    logo_uri: str | None = None,
    now: datetime,
    egress: Egress = PUBLIC_ONLY,
) -> NewAgency:
    """Validate an agency's registration; every problem is reported at once.
    ``egress``: what a back-channel logout URI may point at (identity POSTs to it).
    ``profile`` fapi2 sets the PAR and DPoP requirements; None for either means
    "not asked": off, or on under fapi2 (an explicit False is refused there)."""
    fapi2 = profile == "fapi2"
    implied = {
        "require_pushed_authorization_requests": require_pushed_authorization_requests,
        "dpop_bound_access_tokens": dpop_bound_access_tokens,
    }
    violations = [
        *_check_name(name),
        *_check_scopes(scopes),
        *_check_redirect_uris(redirect_uris),
        *_check_mode(mode),
        *(jwks_violations(jwks, fapi2=fapi2) if jwks is not None else ()),
        *_check_oidc(
            public=public,
            jwks=jwks,
            subject_type=subject_type,
            sector_identifier=sector_identifier,
            id_token_alg=id_token_alg,
            post_logout_redirect_uris=post_logout_redirect_uris,
            backchannel_logout_uri=backchannel_logout_uri,
            egress=egress,
        ),
        *profile_violations(profile),
        *(
            fapi2_violations(public=public, jwks=jwks, id_token_alg=id_token_alg, flags=implied)
            if fapi2
            else ()
        ),
        *_check_signed_requests(require_signed_request_object, jwks),
        *_check_presentation(display_name, logo_uri),
    ]
    if violations:
        raise InvalidArgument.from_violations(violations)
    checked_mode: Mode = "live" if mode == "live" else "test"
    methods: tuple[AuthMethod, ...]
    if public:
        methods, secret = ("none",), None
    elif jwks is not None:
        methods, secret = ("private_key_jwt",), None
    else:
        methods, secret = SECRET_METHODS, new_client_secret(checked_mode)
    agency = Agency(
        client_id=new_client_id(),
        name=name.strip(),
        mode=checked_mode,
        scopes=tuple(dict.fromkeys(scopes)),
        redirect_uris=tuple(redirect_uris),
        auth_methods=methods,
        secret_hash=hash_secret(secret) if secret else None,
        jwks=dict(jwks) if jwks is not None else None,
        created_at=now,
        subject_type="public" if subject_type == "public" else "pairwise",
        sector_identifier=sector_identifier or None,
        id_token_alg=id_token_alg,
        post_logout_redirect_uris=tuple(post_logout_redirect_uris),
        backchannel_logout_uri=backchannel_logout_uri or None,
        profile="fapi2" if fapi2 else "standard",
        require_pushed_authorization_requests=fapi2 or bool(require_pushed_authorization_requests),
        require_signed_request_object=bool(require_signed_request_object),
        dpop_bound_access_tokens=fapi2 or bool(dpop_bound_access_tokens),
        display_name=(display_name or "").strip() or None,
        logo_uri=logo_uri or None,
        secret_created_at=now if secret else None,
    )
    return NewAgency(agency, secret)


def _check_presentation(display_name: str | None, logo_uri: str | None) -> list[FieldViolation]:
    """The consent page's name and logo. The logo is an https URL the citizen's
    browser loads (the page's CSP allows https images): never plain http, which
    a network attacker could swap, and never fetched by identity."""
    violations = []
    if display_name:
        violations += [
            FieldViolation("display_name", v.description) for v in _check_name(display_name)
        ]
    if logo_uri:
        problem = urls.problem(logo_uri)
        if problem is None and not logo_uri.lower().startswith("https://"):
            problem = "must be an absolute https URL"
        if problem:
            violations.append(FieldViolation("logo_uri", problem))
    return violations


def _check_signed_requests(required: bool, jwks: Mapping[str, Any] | None) -> list[FieldViolation]:
    # Request objects are verified by the agency's registered keys: a client
    # secret is stored only hashed, so it cannot verify an HS256 one.
    if required and jwks is None:
        return [
            FieldViolation(
                "require_signed_request_object",
                "request objects are verified by the agency's keys: register a JWK Set",
            )
        ]
    return []


def _check_oidc(
    *,
    public: bool,
    jwks: Mapping[str, Any] | None,
    subject_type: str,
    sector_identifier: str | None,
    id_token_alg: str,
    post_logout_redirect_uris: Sequence[str],
    backchannel_logout_uri: str | None,
    egress: Egress,
) -> list[FieldViolation]:
    violations = []
    if public and jwks is not None:
        violations.append(FieldViolation("public", "a public client cannot also register keys"))
    if subject_type not in ("pairwise", "public"):
        violations.append(FieldViolation("subject_type", "must be 'pairwise' or 'public'"))
    if sector_identifier is not None and not 0 < len(sector_identifier) <= 255:
        violations.append(FieldViolation("sector_identifier", "1 to 255 characters"))
    if id_token_alg not in ID_TOKEN_ALGORITHMS:
        violations.append(FieldViolation("id_token_alg", "must be 'ES256' or 'RS256'"))
    for i, uri in enumerate(post_logout_redirect_uris):
        problem = redirect_uri_problem(uri)
        if problem:
            violations.append(FieldViolation(f"post_logout_redirect_uris[{i}]", problem))
    if backchannel_logout_uri:
        violations += urls.target_violations(
            "backchannel_logout_uri", backchannel_logout_uri, egress
        )
    return violations


def require(agency: Agency | None, client_id: str) -> Agency:
    if agency is None:
        raise NotFound(f"no agency with client id {client_id!r}")
    return agency


def _check_name(name: str) -> list[FieldViolation]:
    stripped = name.strip()
    if not stripped:
        return [FieldViolation("name", "required")]
    if len(stripped) > MAX_NAME:
        return [FieldViolation("name", f"at most {MAX_NAME} characters")]
    if any(unicodedata.category(c) == "Cc" for c in stripped):
        return [FieldViolation("name", "must not contain control characters")]
    return []


def _check_scopes(scopes: Sequence[str]) -> list[FieldViolation]:
    if not scopes:
        return [FieldViolation("scopes", "at least one scope is required")]
    return [
        FieldViolation(f"scopes[{i}]", f"unknown scope {s!r}; known: {', '.join(KNOWN_SCOPES)}")
        for i, s in enumerate(scopes)
        if s not in KNOWN_SCOPES
    ]


def _check_redirect_uris(uris: Sequence[str]) -> list[FieldViolation]:
    if len(uris) > MAX_REDIRECT_URIS:
        return [FieldViolation("redirect_uris", f"at most {MAX_REDIRECT_URIS}")]
    violations = []
    for i, uri in enumerate(uris):
        problem = redirect_uri_problem(uri)
        if problem:
            violations.append(FieldViolation(f"redirect_uris[{i}]", problem))
    return violations


def redirect_uri_problem(uri: str) -> str | None:
    """Why a redirect URI cannot be registered, or None (RFC 9700 §2.1, §4.1):
    the platform's URL rules, no fragment. Not a request identity makes, so no
    egress rule; matching stays exact, string for string."""
    return urls.problem(uri)


def _check_mode(mode: str) -> list[FieldViolation]:
    if mode not in ("test", "live"):
        return [FieldViolation("mode", "must be 'test' or 'live'")]
    return []


def jwks_violations(jwks: Mapping[str, Any], *, fapi2: bool = False) -> list[FieldViolation]:
    keys = jwks.get("keys")
    if not isinstance(keys, list) or not keys:
        return [FieldViolation("jwks", "must be a JWK Set with at least one key")]
    violations = []
    for i, raw in enumerate(keys):
        field = f"jwks.keys[{i}]"
        if not isinstance(raw, dict):
            violations.append(FieldViolation(field, "must be a JSON object"))
            continue
        if any(private in raw for private in ("d", "p", "q", "k")):
            violations.append(FieldViolation(field, "contains private key material"))
            continue
        if raw.get("kty") not in ("EC", "RSA"):
            violations.append(FieldViolation(field, "only EC and RSA keys are accepted"))
            continue
        alg = raw.get("alg")
        if alg is not None and alg not in ASSERTION_ALGORITHMS:
            allowed = ", ".join(ASSERTION_ALGORITHMS)
            violations.append(FieldViolation(f"{field}.alg", f"must be one of {allowed}"))
            continue
        try:
            PyJWK(raw)
        except (PyJWKError, PyJWTError, TypeError, ValueError, KeyError) as exc:
            violations.append(FieldViolation(field, f"not a usable public key: {exc}"))
            continue
        if fapi2:
            violations += fapi2_key_violations(field, raw)
    return violations
