"""What a citizen's codes and tokens are, apart from how they are stored or signed.

Rules (RFC 9700, OIDC Core): an authorization code lives 60 seconds and is
single use; codes and refresh tokens are kept only as SHA-256 hashes; an access
token's ``jti`` is recorded so it can be revoked.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

CODE_TTL = timedelta(seconds=60)
_VERIFIER = re.compile(r"^[A-Za-z0-9._~-]{43,128}$")

TokenKind = Literal["access", "refresh"]


class GrantError(Exception):
    """An OAuth error from the token endpoint (RFC 6749 §5.2)."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


@dataclass(frozen=True)
class TokenSet:
    access_token: str
    expires_in: int
    scope: str
    id_token: str | None
    refresh_token: str | None
    # "DPoP" when the access token is bound to a DPoP key (RFC 9449 §5).
    token_type: str = "Bearer"

    def response(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "access_token": self.access_token,
            "token_type": self.token_type,
            "expires_in": self.expires_in,
            "scope": self.scope,
        }
        if self.id_token:
            body["id_token"] = self.id_token
        if self.refresh_token:
            body["refresh_token"] = self.refresh_token
        return body


@dataclass(frozen=True)
class Grant:
    """What a code or refresh token stands for: one sign-in's consent to one agency."""

    client_id: str
    account_id: str
    sid: str
    scopes: tuple[str, ...]
    claims: dict[str, Any] | None
    acr: str
    amr: list[str]
    auth_time: datetime


@dataclass(frozen=True)
class StoredCode:
    """An authorization code as kept: its hash and what redeeming it gives."""

    code_hash: str
    client_id: str
    account_id: str
    sid: str
    redirect_uri: str
    scope: str
    nonce: str | None
    code_challenge: str
    claims: dict[str, Any] | None
    acr: str
    amr: list[str]
    auth_time: datetime
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None
    dpop_jkt: str | None = None  # RFC 9449 §10: only this DPoP key may redeem it

    def grant(self) -> Grant:
        return Grant(
            client_id=self.client_id,
            account_id=self.account_id,
            sid=self.sid,
            scopes=tuple(self.scope.split()),
            claims=self.claims,
            acr=self.acr,
            amr=list(self.amr),
            auth_time=self.auth_time,
        )


@dataclass(frozen=True)
class TokenRecord:
    """A token issued to a citizen's session: an access token (``id`` its jti)
    or a refresh token (``id`` its hash). ``family`` ties every token descended
    from one code exchange with offline_access."""

    id: str
    kind: TokenKind
    client_id: str
    account_id: str
    sid: str
    code_hash: str | None
    family: str | None
    scope: str
    claims: dict[str, Any] | None
    acr: str
    amr: list[str]
    auth_time: datetime
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None  # a rotated refresh token
    revoked_at: datetime | None = None
    dpop_jkt: str | None = None  # the DPoP key the token is bound to (cnf.jkt)

    def grant(self, scopes: tuple[str, ...]) -> Grant:
        return Grant(
            client_id=self.client_id,
            account_id=self.account_id,
            sid=self.sid,
            scopes=scopes,
            claims=self.claims,
            acr=self.acr,
            amr=list(self.amr),
            auth_time=self.auth_time,
        )


def hash_value(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def s256(verifier: str) -> str:
    """PKCE's S256 code challenge of ``verifier`` (RFC 7636 §4.2)."""
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")


def well_formed_verifier(verifier: str | None) -> bool:
    """RFC 7636 §4.1: 43 to 128 unreserved characters."""
    return verifier is not None and _VERIFIER.match(verifier) is not None


def narrowed_scopes(
    granted: str, registered: tuple[str, ...], asked: str | None
) -> tuple[str, ...]:
    """A refresh's scopes: never more than the agency is registered for today,
    and with ``asked``, exactly that if it is within the grant."""
    scopes = tuple(s for s in granted.split() if s in registered)
    if asked:
        narrower = tuple(dict.fromkeys(asked.split()))
        if not set(narrower) <= set(scopes):
            raise GrantError("invalid_scope", "scope exceeds the original grant")
        scopes = narrower
    return scopes
