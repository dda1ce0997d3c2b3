"""Citizen sign-in through identity (OpenID Connect authorization code flow with PKCE).

1. ``start()`` builds the authorization URL with a fresh ``state``, ``nonce`` and
   PKCE ``code_verifier``; keep the returned ``PendingSignIn`` server-side (in the
   citizen's session) and redirect the browser to ``pending.url``.
2. On the callback, ``finish(pending, query_params)`` checks ``state`` and ``iss``,
   exchanges the code and validates the ID token locally against identity's JWKS
   (cached; fetched again for an unknown key): the algorithm must be one you
   allow and match the key, and ``iss``, ``aud``, ``azp``, ``exp``, ``iat``,
   ``nonce``, ``acr`` and ``at_hash`` must all be right.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt

from gaap_client.credentials import Credentials

DEFAULT_ALGORITHMS = ("ES256", "RS256")
_KEY_TYPES = {"ES256": "EC", "ES384": "EC", "RS256": "RSA", "PS256": "RSA"}
_FORBIDDEN_HEADERS = ("jku", "x5u", "jwk", "x5c", "crit")


class SignInError(Exception):
    """The sign-in did not complete; ``error`` is an OAuth error code or our own."""

    def __init__(self, error: str, description: str = "") -> None:
        super().__init__(f"{error}: {description}" if description else error)
        self.error = error
        self.description = description


@dataclass(frozen=True)
class PendingSignIn:
    """What to remember between the redirect to identity and the callback."""

    url: str
    state: str
    nonce: str
    code_verifier: str
    acr_values: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PendingSignIn:
        return cls(
            url=str(data["url"]),
            state=str(data["state"]),
            nonce=str(data["nonce"]),
            code_verifier=str(data["code_verifier"]),
            acr_values=tuple(str(a) for a in data["acr_values"]),
        )


@dataclass(frozen=True)
class SignedIn:
    """A validated sign-in: the ID token's claims and the tokens identity issued."""

    claims: dict[str, Any]
    id_token: str
    access_token: str
    refresh_token: str | None
    userinfo: dict[str, Any]  # name, email, phone... as the citizen consented

    @property
    def profile(self) -> dict[str, Any]:
        """The ID token's claims with the UserInfo claims over them (same ``sub``)."""
        return {**self.claims, **self.userinfo}

    @property
    def subject(self) -> str:
        return str(self.claims["sub"])

    @property
    def acr(self) -> str:
        return str(self.claims.get("acr", ""))


def _header(token: str) -> dict[str, Any]:
    """The JOSE header, read without the payload and signature (pyjwt decodes
    all three again when it verifies)."""
    segment, _, rest = token.partition(".")
    if not rest:
        raise SignInError("invalid_id_token", "not a JWT")
    try:
        header = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except ValueError:
        raise SignInError("invalid_id_token", "not a JWT") from None
    if not isinstance(header, dict):
        raise SignInError("invalid_id_token", "not a JWT")
    return header


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


class _Jwks:
    """identity's keys by ``kid``: refreshed after ``max_age`` or on an unknown
    ``kid``, but at most once per ``min_interval`` (a forged kid cannot make us
    hammer identity)."""

    def __init__(
        self,
        fetch: Callable[[], dict[str, Any]],
        max_age: float = 900,
        min_interval: float = 5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self._max_age = max_age
        self._min_interval = min_interval
        self._clock = clock
        self._keys: dict[str, dict[str, Any]] = {}
        self._parsed: dict[tuple[str, str], Any] = {}
        self._fetched_at: float | None = None
        self._lock = threading.Lock()

    def get(self, kid: str) -> dict[str, Any] | None:
        with self._lock:
            now = self._clock()
            stale = self._fetched_at is None or now - self._fetched_at > self._max_age
            unknown = kid not in self._keys and (
                self._fetched_at is None or now - self._fetched_at >= self._min_interval
            )
            if stale or unknown:
                document = self._fetch()
                self._keys = {
                    str(k["kid"]): k for k in document.get("keys", []) if isinstance(k, dict)
                }
                self._parsed = {}
                self._fetched_at = now
            return self._keys.get(kid)

    def key_object(self, kid: str, jwk: dict[str, Any], alg: str) -> Any:
        """The parsed public key, made once per key and algorithm: parsing a JWK
        costs about as much as the signature check itself."""
        found = self._parsed.get((kid, alg))
        if found is None:
            found = self._parsed[(kid, alg)] = jwt.PyJWK(jwk, algorithm=alg).key
        return found


class OpenIdClient:
    """A relying party of identity for one redirect URI."""

    def __init__(
        self,
        issuer: str,
        credentials: Credentials,
        redirect_uri: str,
        *,
        algorithms: Sequence[str] = DEFAULT_ALGORITHMS,
        leeway: float = 30,
        http: httpx.Client | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.issuer = issuer
        self.credentials = credentials
        self.redirect_uri = redirect_uri
        self.algorithms = tuple(algorithms)
        self._leeway = leeway
        self._http = http or httpx.Client(timeout=10)
        self._clock = clock
        self._metadata: dict[str, Any] | None = None
        self._jwks = _Jwks(self._fetch_jwks)

    @property
    def client_id(self) -> str:
        return self.credentials.client_id

    def metadata(self) -> dict[str, Any]:
        """identity's discovery document (fetched once; its issuer must be ours)."""
        if self._metadata is None:
            response = self._http.get(self.issuer + "/.well-known/openid-configuration")
            response.raise_for_status()
            document: dict[str, Any] = response.json()
            if document.get("issuer") != self.issuer:
                raise SignInError("invalid_configuration", "discovery names another issuer")
            self._metadata = document
        return self._metadata

    def start(
        self,
        *,
        scope: str = "openid",
        acr_values: Sequence[str] = ("Cl.Cm",),
        ui_locales: Sequence[str] = (),
        prompt: str = "",
    ) -> PendingSignIn:
        """A new authorization request; redirect the citizen to ``.url``."""
        state, nonce = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        verifier = secrets.token_urlsafe(48)
        challenge = _b64url(hashlib.sha256(verifier.encode()).digest())
        params = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "scope": scope,
            "state": state,
            "nonce": nonce,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "acr_values": " ".join(acr_values),
            "ui_locales": " ".join(ui_locales),
            "prompt": prompt,
        }
        query = urlencode({k: v for k, v in params.items() if v})
        url = f"{self.metadata()['authorization_endpoint']}?{query}"
        return PendingSignIn(url, state, nonce, verifier, tuple(acr_values))

    def finish(self, pending: PendingSignIn, params: Mapping[str, str]) -> SignedIn:
        """Complete the sign-in from the callback's query parameters."""
        if not hmac.compare_digest(params.get("state", ""), pending.state):
            raise SignInError("invalid_state", "the callback's state is not this sign-in's")
        issuer = params.get("iss")
        if issuer is not None and issuer != self.issuer:  # RFC 9207: mix-up defence
            raise SignInError("invalid_issuer", "the callback came from another issuer")
        if "error" in params:
            raise SignInError(params["error"], params.get("error_description", ""))
        code = params.get("code", "")
        if not code:
            raise SignInError("invalid_request", "the callback has no code")
        tokens = self._redeem(code, pending.code_verifier)
        claims = self.validate_id_token(
            str(tokens["id_token"]),
            nonce=pending.nonce,
            acr_values=pending.acr_values,
            access_token=str(tokens.get("access_token", "")),
        )
        refresh = tokens.get("refresh_token")
        access_token = str(tokens.get("access_token", ""))
        userinfo = self.userinfo(access_token, claims["sub"]) if access_token else {}
        return SignedIn(
            claims,
            str(tokens["id_token"]),
            access_token,
            str(refresh) if refresh else None,
            userinfo,
        )

    def userinfo(self, access_token: str, subject: str) -> dict[str, Any]:
        """The UserInfo claims; ``sub`` must be the ID token's (OIDC Core §5.3.4)."""
        response = self._http.get(
            str(self.metadata()["userinfo_endpoint"]),
            headers={"authorization": f"Bearer {access_token}"},
        )
        if response.status_code != 200:
            raise SignInError("userinfo_failed", f"UserInfo answered {response.status_code}")
        claims: dict[str, Any] = response.json()
        if not hmac.compare_digest(str(claims.get("sub", "")), str(subject)):
            raise SignInError("invalid_userinfo", "UserInfo is about another subject")
        return claims

    def _redeem(self, code: str, verifier: str) -> dict[str, Any]:
        endpoint = str(self.metadata()["token_endpoint"])
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.redirect_uri,
            "code_verifier": verifier,
        }
        data, auth = self.credentials.authenticate(form, endpoint)
        response = self._http.post(endpoint, data=data, auth=auth)
        try:
            body: dict[str, Any] = response.json()
        except ValueError:
            body = {}
        if response.status_code != 200 or "id_token" not in body:
            raise SignInError(
                str(body.get("error") or f"http_{response.status_code}"),
                str(body.get("error_description") or ""),
            )
        return body

    def validate_id_token(
        self,
        id_token: str,
        *,
        nonce: str,
        acr_values: Sequence[str] = (),
        access_token: str = "",
    ) -> dict[str, Any]:
        """The ID token's claims, or ``SignInError`` naming the first rule it breaks."""
        header = _header(id_token)
        alg = header.get("alg")
        if alg not in self.algorithms:
            raise SignInError("invalid_id_token", f"algorithm {alg!r} is not allowed")
        if any(name in header for name in _FORBIDDEN_HEADERS):
            raise SignInError("invalid_id_token", "the header refers to outside keys")
        jwk = self._jwks.get(str(header.get("kid", "")))
        if jwk is None:
            raise SignInError("invalid_id_token", "signed with an unknown key")
        if jwk.get("kty") != _KEY_TYPES.get(alg) or jwk.get("alg", alg) != alg:
            raise SignInError("invalid_id_token", "the algorithm does not match the key")
        try:
            key = self._jwks.key_object(str(header.get("kid", "")), jwk, alg)
            claims: dict[str, Any] = jwt.decode(
                id_token,
                key,
                algorithms=[alg],
                audience=self.client_id,
                issuer=self.issuer,
                leeway=self._leeway,
                options={"require": ["iss", "sub", "aud", "exp", "iat"]},
            )
        except jwt.PyJWTError as exc:
            raise SignInError("invalid_id_token", str(exc)) from None
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        if len(audiences) > 1 and claims.get("azp") != self.client_id:
            raise SignInError("invalid_id_token", "azp is not this client")
        if claims["iat"] > self._clock() + self._leeway:
            raise SignInError("invalid_id_token", "issued in the future")
        if not hmac.compare_digest(str(claims.get("nonce", "")), nonce):
            raise SignInError("invalid_id_token", "the nonce is not this sign-in's")
        if acr_values and claims.get("acr") not in acr_values:
            raise SignInError("insufficient_acr", f"signed in at {claims.get('acr')!r}")
        if access_token and "at_hash" in claims:
            digest = hashlib.sha256(access_token.encode()).digest()
            if not hmac.compare_digest(str(claims["at_hash"]), _b64url(digest[:16])):
                raise SignInError("invalid_id_token", "at_hash does not match the access token")
        return claims

    def _fetch_jwks(self) -> dict[str, Any]:
        response = self._http.get(str(self.metadata()["jwks_uri"]))
        response.raise_for_status()
        document: dict[str, Any] = response.json()
        return document
