"""Strict verification of identity's access tokens (RFC 9068 profile, RFC 8725 rules).

Every check names what failed, so a developer can act on the message; none of
them echoes the token. Verified tokens are remembered until they expire: the
cache is keyed by the exact token text, so only the very bytes that verified
once can hit it, and expiry is still checked on every use.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import jwt
from jwt import PyJWK

from services.runtime.context import Mode, Principal
from services.runtime.errors import Unauthenticated

ACCESS_TOKEN_TYPE = "at+jwt"
ALLOWED_ALGORITHMS: tuple[str, ...] = ("ES256", "PS256", "RS256")
REQUIRED_CLAIMS = ("iss", "sub", "aud", "exp", "iat", "jti", "client_id", "scope")
_FORBIDDEN_HEADERS = ("jku", "x5u", "jwk", "x5c", "crit")


def audience_for(service: str) -> str:
    """The ``aud`` value that names one GaaP service as a token's recipient."""
    return f"urn:gaap:{service}"


class KeySource(Protocol):
    def get(self, kid: str) -> PyJWK | None: ...


class AccessTokenVerifier:
    def __init__(
        self,
        *,
        issuer: str,
        audience: str | Sequence[str],
        keys: KeySource,
        algorithms: Sequence[str] = ALLOWED_ALGORITHMS,
        leeway: int = 30,
        cache_size: int = 10_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._issuer = issuer
        self._audience = audience if isinstance(audience, str) else list(audience)
        self._keys = keys
        self._algorithms = frozenset(algorithms)
        self._leeway = leeway
        self._clock = clock
        self._cache: dict[str, tuple[Principal, dict[str, Any]]] = {}
        self._cache_size = cache_size
        self._cache_lock = threading.Lock()

    def verify(self, token: str) -> Principal:
        return self.verify_with_claims(token)[0]

    def verify_with_claims(self, token: str) -> tuple[Principal, dict[str, Any]]:
        """The agency behind the token and every claim it carries."""
        cached = self._cache.get(token)
        if cached is not None:
            if cached[0].expires_at + self._leeway > self._clock():
                return cached
            with self._cache_lock:
                self._cache.pop(token, None)
        verified = self._verify(token)
        with self._cache_lock:
            if len(self._cache) >= self._cache_size:
                self._evict()
            self._cache[token] = verified
        return verified

    def _evict(self) -> None:
        """Make room in one pass (caller holds the lock): drop expired entries and,
        if still full, the oldest tenth, so a full cache costs O(n) once per
        ``cache_size / 10`` insertions rather than on every one."""
        now = self._clock()
        keep_after = self._cache_size - max(1, self._cache_size // 10)
        live = [(t, v) for t, v in self._cache.items() if v[0].expires_at + self._leeway > now]
        # Sliced from the front: ``live[-keep_after:]`` keeps everything when keep_after is 0.
        self._cache = dict(live[max(0, len(live) - keep_after) :])

    def _verify(self, token: str) -> tuple[Principal, dict[str, Any]]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:  # includes a non-string kid and a bad crit
            raise Unauthenticated("access token is malformed: not a signed JWT") from None
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self._algorithms:
            raise Unauthenticated(
                f"access token algorithm {alg!r} is not accepted; "
                f"accepted: {', '.join(sorted(self._algorithms))}"
            )
        for name in _FORBIDDEN_HEADERS:
            if name in header:
                raise Unauthenticated(f"access token header {name!r} is not accepted")
        typ = header.get("typ")
        if not isinstance(typ, str) or typ.lower() not in (ACCESS_TOKEN_TYPE, "application/at+jwt"):
            raise Unauthenticated("token is not an access token (typ must be at+jwt)")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise Unauthenticated("access token has no key id (kid)")
        key = self._keys.get(kid)
        if key is None:
            raise Unauthenticated("access token is signed by an unknown key")
        if key.algorithm_name != alg:
            raise Unauthenticated("access token algorithm does not match its key")
        claims = self._decode(token, key, alg)
        self._check_times(claims)
        return _principal(claims), claims

    def _check_times(self, claims: dict[str, Any]) -> None:
        # Checked here against the injected clock (pyjwt would use the wall clock).
        now = self._clock()
        for name in ("exp", "iat", "nbf"):
            value = claims.get(name)
            optional_and_absent = name == "nbf" and value is None
            if not optional_and_absent and (
                isinstance(value, bool) or not isinstance(value, int | float)
            ):
                raise Unauthenticated(f"access token claim {name!r} must be a number")
        if claims["exp"] <= now - self._leeway:
            raise Unauthenticated("access token has expired; get a new one")
        if claims["iat"] > now + self._leeway or claims.get("nbf", 0) > now + self._leeway:
            raise Unauthenticated("access token is not valid yet (iat/nbf in the future)")

    def _decode(self, token: str, key: PyJWK, alg: str) -> dict[str, Any]:
        try:
            return jwt.decode(
                token,
                key,
                algorithms=[alg],
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options={
                    "require": list(REQUIRED_CLAIMS),
                    "strict_aud": False,
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
        # exp, iat and nbf are checked by _check_times, so pyjwt raises no
        # ExpiredSignatureError or ImmatureSignatureError here.
        except jwt.InvalidAudienceError:
            raise Unauthenticated(
                f"access token is not for this service (audience must include {self._audience}): "
                "request a token with a scope of this service"
            ) from None
        except jwt.InvalidIssuerError:
            raise Unauthenticated(
                f"access token has the wrong issuer (expected {self._issuer})"
            ) from None
        except jwt.InvalidSignatureError:
            raise Unauthenticated("access token signature does not verify") from None
        except jwt.MissingRequiredClaimError as exc:
            raise Unauthenticated(f"access token lacks the {exc.claim!r} claim") from None
        except jwt.InvalidTokenError as exc:
            raise Unauthenticated(f"access token is invalid: {_safe(exc)}") from None


def _safe(exc: Exception) -> str:
    # pyjwt's messages describe claims and never include the token itself.
    return str(exc)[:200]


def _principal(claims: dict[str, Any]) -> Principal:
    scope = claims["scope"]
    client_id = claims["client_id"]
    mode = claims.get("gaap_mode")
    if not isinstance(scope, str) or not isinstance(client_id, str):
        raise Unauthenticated("access token claims 'scope' and 'client_id' must be strings")
    if mode not in ("test", "live"):
        raise Unauthenticated("access token lacks a valid 'gaap_mode' claim")
    agency_mode: Mode = mode
    ordered = tuple(scope.split())
    return Principal(
        client_id=client_id,
        mode=agency_mode,
        scopes=frozenset(ordered),
        token_id=str(claims["jti"]),
        expires_at=int(claims["exp"]),
        scope_order=ordered,
        agency_name=str(claims.get("gaap_agency_name", ""))[:200],
        actor=_actor(claims),
    )


def _actor(claims: dict[str, Any]) -> str | None:
    """RFC 8693 §4.1: ``act.sub`` names who acts for the token's subject. It is
    kept for the logs only; the tenant stays the token's ``client_id``."""
    act = claims.get("act")
    if act is None:
        return None
    actor = act.get("sub") if isinstance(act, dict) else None
    if not isinstance(actor, str) or not 0 < len(actor) <= 64:
        raise Unauthenticated("access token claim 'act' must be an object with a string 'sub'")
    return actor
