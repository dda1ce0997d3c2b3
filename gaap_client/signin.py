"""Citizen sign-in through identity (OpenID Connect authorization code flow with PKCE).

1. ``start()`` builds the authorization URL with a fresh ``state``, ``nonce`` and
   PKCE ``code_verifier``; keep the returned ``PendingSignIn`` server-side (in the
   citizen's session) and redirect the browser to ``pending.url``.
2. On the callback, ``finish(pending, query_params)`` checks ``state`` and ``iss``,
   exchanges the code and validates the ID token locally against identity's JWKS
   (cached; fetched again for an unknown key): the algorithm must be one you
   allow and match the key, and ``iss``, ``aud``, ``azp``, ``exp``, ``iat``,
   ``nonce``, ``acr`` and ``at_hash`` must all be right.

With ``fapi2=True`` (the FAPI 2.0 Security Profile, which identity enforces for
agencies registered with ``--profile fapi2``): the authorization request is
pushed to identity first (RFC 9126, authenticated with ``private_key_jwt`` whose
``aud`` is the issuer) with ``dpop_jkt`` and ``response_mode=query``, and the
browser goes to identity with only ``client_id`` and ``request_uri``; the code
exchange, ``refresh`` and ``revoke`` carry a DPoP proof (RFC 9449) and UserInfo
gets ``DPoP <token>`` and a proof; the callback must carry ``iss``. Each server's
``DPoP-Nonce`` is kept and a request refused with ``use_dpop_nonce`` is sent
once more with it.

The protocol is authlib's client (the authorization URL and its S256 challenge,
the code exchange with the agency's client authentication, the ID token's claims
by ``CodeIDToken``); signatures are checked by joserfc, authlib's JOSE library.
"""

from __future__ import annotations

import hmac
import json
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
from authlib.common.security import generate_token
from authlib.oidc.core import CodeIDToken
from joserfc import jws
from joserfc.errors import BadSignatureError, ClaimError, ExpiredTokenError, JoseError

from gaap_client.credentials import Credentials, PrivateKeyJwt
from gaap_client.dpop import DpopKey, DpopNonces
from gaap_client.dpop_http import DpopAuth
from gaap_client.jwks import KeyCache
from gaap_client.oauth import TokenRefused, oauth_client

DEFAULT_ALGORITHMS = ("ES256", "RS256")
_KEY_TYPES = {"ES256": "EC", "ES384": "EC", "RS256": "RSA", "PS256": "RSA"}
_FORBIDDEN_HEADERS = ("jku", "x5u", "jwk", "x5c", "crit")
# What each claim authlib's CodeIDToken refuses means, for SignInError.description.
_CLAIM_PROBLEMS = {
    "iss": "the issuer is not identity",
    "aud": "the audience is not this client",
    "azp": "azp is not this client",
    "iat": "issued in the future",
    "nbf": "not valid yet",
    "nonce": "the nonce is not this sign-in's",
    "at_hash": "at_hash does not match the access token",
}


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
    # The DPoP key the code will be bound to (its thumbprint), when there is one.
    dpop_jkt: str = ""

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
            dpop_jkt=str(data.get("dpop_jkt") or ""),
        )


@dataclass(frozen=True)
class SignedIn:
    """A validated sign-in: the ID token's claims and the tokens identity issued."""

    claims: dict[str, Any]
    id_token: str
    access_token: str
    refresh_token: str | None
    userinfo: dict[str, Any]  # name, email, phone... as the citizen consented
    token_type: str = "Bearer"  # "DPoP": the access token works only with the key's proofs

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


@dataclass(frozen=True)
class Refreshed:
    """What a refresh gave: a new access token and, rotated, a new refresh token."""

    access_token: str
    refresh_token: str | None
    token_type: str
    expires_in: int


def _parse(token: str) -> tuple[jws.CompactSignature, dict[str, Any]]:
    """The JWS, parsed once, and its header, read before anything is trusted."""
    try:
        compact = jws.extract_compact(token.encode())
        header = dict(compact.headers())
    except (JoseError, ValueError, UnicodeError):
        raise SignInError("invalid_id_token", "not a JWT") from None
    return compact, header


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
        fapi2: bool = False,
        dpop_key: DpopKey | None = None,
    ) -> None:
        """``fapi2``: sign in by the FAPI 2.0 profile (PAR, ``private_key_jwt``
        with ``aud`` the issuer, DPoP); ``credentials`` must be ``PrivateKeyJwt``.

        ``dpop_key``: the key identity binds the citizens' tokens to (with
        ``fapi2``, a new one per ``OpenIdClient`` unless given; without it, DPoP
        only when given). A token works only with proofs by its key: give every
        replica of your app the same key (``DpopKey.from_pem``) if one replica
        may use an access token another obtained."""
        if fapi2 and not isinstance(credentials, PrivateKeyJwt):
            raise ValueError("the FAPI 2.0 profile authenticates with private_key_jwt only")
        self.issuer = issuer
        self.credentials = credentials
        self.redirect_uri = redirect_uri
        self.algorithms = tuple(algorithms)
        self.fapi2 = fapi2
        self.dpop_key = dpop_key or (DpopKey.generate() if fapi2 else None)
        self.nonces = DpopNonces()
        self._leeway = leeway
        self._http = http or httpx.Client(timeout=10)
        self._clock = clock
        self._metadata: dict[str, Any] | None = None
        self._oauth = oauth_client(
            credentials,
            self._http,
            # FAPI 2.0 §5.3.2.1: the issuer, exactly, at every endpoint.
            audience=issuer if fapi2 else None,
            dpop=self.dpop_key,
            nonces=self.nonces,
        )
        self._keys = KeyCache(self._fetch_jwks)
        self._registries: dict[str, jws.JWSRegistry] = {}

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
        verifier = generate_token(48)  # authlib sends its S256 challenge
        authorize = str(self.metadata()["authorization_endpoint"])
        jkt = self.dpop_key.thumbprint if self.dpop_key else ""
        url, _ = self._oauth.create_authorization_url(
            authorize,
            state=state,
            code_verifier=verifier,
            redirect_uri=self.redirect_uri,
            scope=scope,
            nonce=nonce,
            acr_values=" ".join(acr_values) or None,
            ui_locales=" ".join(ui_locales) or None,
            prompt=prompt or None,
            response_mode="query" if self.fapi2 else None,
            dpop_jkt=jkt or None,  # RFC 9449 §10: the code is bound to our key
        )
        if self.fapi2:
            url = self._pushed(authorize, dict(parse_qsl(urlsplit(str(url)).query)))
        return PendingSignIn(str(url), state, nonce, verifier, tuple(acr_values), jkt)

    def _pushed(self, authorize: str, request: dict[str, str]) -> str:
        """Push the authorization request (RFC 9126); the browser's URL then has
        only ``client_id`` and ``request_uri``."""
        endpoint = self.metadata().get("pushed_authorization_request_endpoint")
        if not endpoint:
            raise SignInError("invalid_configuration", "identity has no PAR endpoint")
        client_auth = self._oauth.client_auth(self._oauth.token_endpoint_auth_method)
        response = self._http.post(str(endpoint), data=request, auth=client_auth)
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise SignInError("par_failed", f"PAR answered {response.status_code}")
        if response.status_code != 201 or not isinstance(body.get("request_uri"), str):
            error = str(body.get("error") or "par_failed")
            raise SignInError(error, str(body.get("error_description") or ""))
        query = urlencode({"client_id": self.client_id, "request_uri": body["request_uri"]})
        return f"{authorize}{'&' if '?' in authorize else '?'}{query}"

    def finish(self, pending: PendingSignIn, params: Mapping[str, str]) -> SignedIn:
        """Complete the sign-in from the callback's query parameters."""
        if not hmac.compare_digest(params.get("state", ""), pending.state):
            raise SignInError("invalid_state", "the callback's state is not this sign-in's")
        issuer = params.get("iss")
        if issuer is None and self.fapi2:  # FAPI 2.0 §5.3.2.2: the client checks iss
            raise SignInError("invalid_issuer", "the callback does not name its issuer")
        if issuer is not None and issuer != self.issuer:  # RFC 9207: mix-up defence
            raise SignInError("invalid_issuer", "the callback came from another issuer")
        if "error" in params:
            raise SignInError(params["error"], params.get("error_description", ""))
        code = params.get("code", "")
        if not code:
            raise SignInError("invalid_request", "the callback has no code")
        jkt = self.dpop_key.thumbprint if self.dpop_key else ""
        if pending.dpop_jkt and not hmac.compare_digest(pending.dpop_jkt, jkt):
            raise SignInError("invalid_dpop_key", "the code is bound to another DPoP key")
        tokens = self._redeem(code, pending.code_verifier)
        access_token = str(tokens.get("access_token", ""))
        claims = self.validate_id_token(
            str(tokens["id_token"]),
            nonce=pending.nonce,
            acr_values=pending.acr_values,
            access_token=access_token,
        )
        refresh = tokens.get("refresh_token")
        userinfo = self.userinfo(access_token, claims["sub"]) if access_token else {}
        return SignedIn(
            claims,
            str(tokens["id_token"]),
            access_token,
            str(refresh) if refresh else None,
            userinfo,
            str(tokens.get("token_type") or "Bearer"),
        )

    def userinfo(self, access_token: str, subject: str) -> dict[str, Any]:
        """The UserInfo claims; ``sub`` must be the ID token's (OIDC Core §5.3.4).
        With a DPoP key: ``DPoP <token>`` and a proof (the token is bound to it)."""
        endpoint = str(self.metadata()["userinfo_endpoint"])
        if self.dpop_key is not None:
            auth = DpopAuth(self.dpop_key, self.nonces, access_token=access_token)
            response = self._http.get(endpoint, auth=auth)
        else:
            response = self._http.get(endpoint, headers={"authorization": f"Bearer {access_token}"})
        if response.status_code != 200:
            raise SignInError("userinfo_failed", f"UserInfo answered {response.status_code}")
        claims: dict[str, Any] = response.json()
        if not hmac.compare_digest(str(claims.get("sub", "")), str(subject)):
            raise SignInError("invalid_userinfo", "UserInfo is about another subject")
        return claims

    def refresh(self, refresh_token: str) -> Refreshed:
        """New tokens for a refresh token (with a DPoP key, bound to it: the new
        access token works only with this key's proofs)."""
        body = self._token_request(grant_type="refresh_token", refresh_token=refresh_token)
        refresh = body.get("refresh_token")
        return Refreshed(
            str(body["access_token"]),
            str(refresh) if refresh else None,
            str(body.get("token_type") or "Bearer"),
            int(body.get("expires_in") or 0),
        )

    def revoke(self, token: str, token_type_hint: str = "refresh_token") -> None:
        """Revoke a refresh token (and the access tokens of its sign-in) or an
        access token (RFC 7009), authenticated as at the token endpoint."""
        endpoint = self.metadata().get("revocation_endpoint")
        if not endpoint:
            raise SignInError("invalid_configuration", "identity has no revocation endpoint")
        response = self._oauth.revoke_token(
            str(endpoint), token=token, token_type_hint=token_type_hint
        )
        if response.status_code != 200:
            raise SignInError("revocation_failed", f"revocation answered {response.status_code}")

    def _redeem(self, code: str, verifier: str) -> dict[str, Any]:
        body = self._token_request(
            grant_type="authorization_code",
            code=code,
            redirect_uri=self.redirect_uri,
            code_verifier=verifier,
        )
        if "id_token" not in body:
            raise SignInError("invalid_token_response", "identity returned no ID token")
        return body

    def _token_request(self, **form: str) -> dict[str, Any]:
        try:
            body = self._oauth.fetch(str(self.metadata()["token_endpoint"]), **form)
        except TokenRefused as refused:
            raise SignInError(refused.error, refused.description) from None
        if "access_token" not in body:
            raise SignInError("invalid_token_response", "identity returned no access token")
        bound = str(body.get("token_type", "")).lower() == "dpop"
        if self.dpop_key is not None and not bound:  # a bearer token would defeat the key
            raise SignInError("invalid_token_response", "the token is not bound to the DPoP key")
        return body

    def validate_id_token(
        self,
        id_token: str,
        *,
        nonce: str,
        acr_values: Sequence[str] = (),
        access_token: str = "",
    ) -> dict[str, Any]:
        """The ID token's claims, or ``SignInError`` naming the first rule it breaks.

        The header is checked here (an allowed algorithm that fits the key, no
        pointer to outside keys), the signature by joserfc, the claims by authlib's
        ``CodeIDToken`` (iss, aud, azp, exp, iat, nonce, at_hash), then acr."""
        compact, header = _parse(id_token)
        alg = header.get("alg")
        if alg not in self.algorithms:
            raise SignInError("invalid_id_token", f"algorithm {alg!r} is not allowed")
        if any(name in header for name in _FORBIDDEN_HEADERS):
            raise SignInError("invalid_id_token", "the header refers to outside keys")
        found = self._keys.get(str(header.get("kid", "")))
        if found is None:
            raise SignInError("invalid_id_token", "signed with an unknown key")
        jwk, key = found
        if jwk.get("kty") != _KEY_TYPES.get(alg) or jwk.get("alg", alg) != alg:
            raise SignInError("invalid_id_token", "the algorithm does not match the key")
        try:
            if not jws.validate_compact(compact, key, registry=self._registry(alg)):
                raise BadSignatureError
            payload = json.loads(compact.payload)
        except BadSignatureError:
            raise SignInError("invalid_id_token", "Signature verification failed") from None
        except (JoseError, ValueError) as exc:
            raise SignInError("invalid_id_token", str(exc)) from None
        if not isinstance(payload, dict):
            raise SignInError("invalid_id_token", "the payload is not a JSON object")
        claims = CodeIDToken(
            payload,
            header,
            options={
                "iss": {"essential": True, "value": self.issuer},
                "aud": {"essential": True, "value": self.client_id},
            },
            params={"nonce": nonce, "client_id": self.client_id, "access_token": access_token},
        )
        try:
            claims.validate(now=int(self._clock()), leeway=int(self._leeway))
        except ExpiredTokenError:
            raise SignInError("invalid_id_token", "the ID token has expired") from None
        except ClaimError as exc:
            problem = _CLAIM_PROBLEMS.get(exc.claim, exc.description)
            raise SignInError("invalid_id_token", problem) from None
        # authlib skips the nonce when ours is empty; a token must not pass for lack of one.
        if not hmac.compare_digest(str(claims.get("nonce", "")), nonce):
            raise SignInError("invalid_id_token", _CLAIM_PROBLEMS["nonce"])
        if acr_values and claims.get("acr") not in acr_values:
            raise SignInError("insufficient_acr", f"signed in at {claims.get('acr')!r}")
        return dict(claims)

    def _registry(self, alg: str) -> jws.JWSRegistry:
        """joserfc's registry allowing only ``alg`` (made once per algorithm)."""
        registry = self._registries.get(alg)
        if registry is None:
            registry = self._registries[alg] = jws.JWSRegistry(algorithms=[alg])
        return registry

    def _fetch_jwks(self) -> dict[str, Any]:
        response = self._http.get(str(self.metadata()["jwks_uri"]))
        response.raise_for_status()
        document: dict[str, Any] = response.json()
        return document
