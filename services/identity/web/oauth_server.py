"""The OAuth 2.0 authorization server, on authlib's framework-neutral core.

authlib ships server integrations for Flask and Django only; this module is the
small adapter that lets its ``AuthorizationServer`` run behind Starlette: a form
request in, ``(status, body, headers)`` out. The grants, client
authentication and error responses are authlib's (RFC 6749, RFC 7523): the
citizen's grants are in ``oauth_grants.py``, revocation and introspection in
``oauth_endpoints.py``, each with GaaP's rules in authlib's hooks.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from authlib.oauth2 import rfc6749
from authlib.oauth2.rfc6749 import ClientMixin, grants
from authlib.oauth2.rfc6749.errors import (
    InvalidClientError,
    InvalidScopeError,
    OAuth2Error,
)
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload, OAuth2Request
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from joserfc import jws
from joserfc import jwt as jose_jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from starlette.datastructures import Headers

from services.identity.domain.access_tokens import granted_scopes
from services.identity.domain.agencies import ASSERTION_ALGORITHMS, Agency
from services.identity.domain.citizen_tokens import GrantError
from services.identity.domain.client_keys import key_set
from services.identity.domain.scopes import KNOWN_SCOPES, is_service_scope
from services.identity.service_layer.citizen_tokens import CitizenTokens
from services.identity.service_layer.introspection import Introspector
from services.identity.service_layer.token_exchange import TokenExchange
from services.identity.service_layer.token_ports import ClientRegistry
from services.identity.service_layer.tokens import AccessTokenIssuer
from services.identity.web.oauth_endpoints import (
    ALL_METHODS,
    CONFIDENTIAL_METHODS,
    Introspection,
    Revocation,
)
from services.identity.web.oauth_grants import (
    CITIZEN_GRANTS,
    AuthorizationCode,
    DpopRequired,
    GaapCodeChallenge,
    GaapOpenIDCode,
    RefreshToken,
    oauth_error,
)
from services.identity.web.token_exchange import token_exchange_grant
from services.runtime.dpop import DpopVerifier, InvalidDpopProof
from services.runtime.dpop_nonce import NONCE_HEADER, DpopNonces, UseDpopNonce

log = logging.getLogger(__name__)

# FAPI 2.0 §5.4.1: a fapi2 agency signs with PS256 or ES256 (not RS256's PKCS#1 v1.5).
FAPI2_ALGORITHMS = ("ES256", "PS256")
MAX_ASSERTION_LIFETIME = 300  # seconds: RFC 7523 assertions should be short-lived
CLOCK_LEEWAY = 30
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}

Response = tuple[int, dict[str, Any], list[tuple[str, str]]]
# Records a client assertion's (client_id, jti) until it expires; False if seen
# before (``AssertionLedger.first_use``: one short write per token request).
FirstUse = Callable[[str, str, datetime], bool]


class AgencyClient(ClientMixin):  # type: ignore[misc]
    """An agency as authlib sees an OAuth client."""

    def __init__(self, agency: Agency, registry: ClientRegistry) -> None:
        self.agency = agency
        self._registry = registry

    def get_client_id(self) -> str:
        return self.agency.client_id

    def get_default_redirect_uri(self) -> str | None:
        return None

    def get_allowed_scope(self, scope: str) -> str:
        return " ".join(s for s in scope.split() if s in self.agency.scopes)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.agency.redirect_uris  # exact match only

    def check_client_secret(self, client_secret: str) -> bool:
        # The registry compares (current and previous secret, in constant time)
        # and notes the secret's last use, at most once a minute.
        return self._registry.authenticate_secret(self.agency, client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        # FAPI 2.0 §5.3.2.1: a fapi2 agency authenticates by private_key_jwt
        # only, whatever else its registration might list.
        if self.agency.profile == "fapi2" and method != PrivateKeyJwt.CLIENT_AUTH_METHOD:
            return False
        return method in self.agency.auth_methods

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code" and "openid" in self.agency.scopes

    def check_grant_type(self, grant_type: str) -> bool:
        if grant_type == "client_credentials":
            return not self.agency.public and any(is_service_scope(s) for s in self.agency.scopes)
        if grant_type in ("authorization_code", "refresh_token"):
            return "openid" in self.agency.scopes
        return False


class FormRequest(OAuth2Request):  # type: ignore[misc]
    def __init__(self, uri: str, form: dict[str, str], headers: Mapping[str, str]) -> None:
        super().__init__(method="POST", uri=uri, headers=headers)
        self._form = form
        self.dpop_jkt: str | None = None  # the verified DPoP proof's key, if any
        self.payload = BasicOAuth2Payload(form)

    @property
    def args(self) -> dict[str, str]:
        return {}

    @property
    def form(self) -> dict[str, str]:
        return self._form


class PrivateKeyJwt(JWTBearerClientAssertion):  # type: ignore[misc]
    """``private_key_jwt`` (RFC 7523 §2.2, OIDC Core §9) with the platform's rules:
    an algorithm allow-list, ``aud`` the issuer or the token endpoint, a lifetime
    of at most five minutes and a ``jti`` that is never accepted twice. For a
    fapi2 agency (FAPI 2.0 §5.3.2.1, §5.4.1) ``aud`` must be the issuer alone
    and the algorithm ES256 or PS256."""

    CLIENT_AUTH_METHOD = "private_key_jwt"

    def __init__(self, audiences: list[str], first_use: FirstUse, issuer: str = "") -> None:
        super().__init__(validate_jti=True, leeway=CLOCK_LEEWAY)
        self._audiences = audiences
        self._first_use = first_use
        self._issuer = issuer or audiences[0]

    def __call__(self, query_client: Any, request: OAuth2Request) -> AgencyClient | None:
        client: AgencyClient | None = super().__call__(query_client, request)
        if client is not None and client.agency.profile == "fapi2":
            self._check_fapi2(str(request.form.get("client_assertion")))
        return client

    def _check_fapi2(self, assertion: str) -> None:
        """Run once the assertion verified: its header and claims are the client's."""
        try:
            compact = jws.extract_compact(assertion.encode())
            claims = json.loads(compact.payload)
        except (JoseError, ValueError):
            raise InvalidClientError(description="client assertion rejected") from None
        alg = compact.protected.get("alg")
        if alg not in FAPI2_ALGORITHMS:
            raise InvalidClientError(
                description=f"the fapi2 profile accepts client assertions signed with "
                f"{' or '.join(FAPI2_ALGORITHMS)} only"
            )
        aud = claims.get("aud") if isinstance(claims, dict) else None
        if aud not in (self._issuer, [self._issuer]):
            raise InvalidClientError(
                description="the fapi2 profile needs the client assertion's 'aud' to be "
                "the issuer, alone"
            )

    def get_audiences(self) -> list[str]:
        return self._audiences

    def resolve_client_public_key(self, client: AgencyClient) -> KeySet:
        if not client.agency.jwks:
            raise InvalidClientError(description="the client has no registered public keys")
        return key_set(client.agency.jwks)

    def process_assertion_claims(self, assertion: str, resolve_key: Any) -> Any:
        try:
            token = jose_jwt.decode(assertion, resolve_key, algorithms=list(ASSERTION_ALGORITHMS))
        except JoseError as exc:
            raise InvalidClientError(description=f"client assertion rejected: {exc.error}") from exc
        claims = token.claims
        self._check_lifetime(claims)
        self.verify_claims(token.claims)
        return claims

    def _check_lifetime(self, claims: Mapping[str, Any]) -> None:
        exp = claims.get("exp")
        if not isinstance(exp, int | float):
            raise InvalidClientError(description="client assertion lacks 'exp'")
        iat = claims.get("iat")
        start = iat if isinstance(iat, int | float) else time.time()
        if exp - start > MAX_ASSERTION_LIFETIME + CLOCK_LEEWAY:
            raise InvalidClientError(
                description=f"client assertion lifetime exceeds {MAX_ASSERTION_LIFETIME} seconds"
            )

    def validate_jti(self, claims: Mapping[str, Any], jti: Any) -> bool:
        if not isinstance(jti, str) or not 0 < len(jti) <= 255:
            return False
        expires = datetime.fromtimestamp(float(claims["exp"]) + CLOCK_LEEWAY, tz=UTC)
        return self._first_use(str(claims["sub"]), jti, expires)


def _all_items(headers: Mapping[str, str]) -> list[tuple[str, str]]:
    """Every header, repeated ones included (Starlette's ``Headers`` keeps them)."""
    if isinstance(headers, Headers):
        return headers.items()
    return list(headers.items())


class ClientCredentials(DpopRequired, grants.ClientCredentialsGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = CONFIDENTIAL_METHODS

    def generate_token(self, scope: str | None = None, **_: Any) -> dict[str, Any]:
        server: TokenServer = self.server
        try:
            return server.agency_token(self.request.client, scope, self.request.dpop_jkt)
        except GrantError as refused:
            raise oauth_error(refused) from refused

    def validate_token_request(self) -> None:
        super().validate_token_request()
        client: AgencyClient = self.request.client
        requested = self.request.payload.scope
        if requested and not all(is_service_scope(s) for s in requested.split()):
            raise InvalidScopeError(description="client_credentials grants service scopes only")
        if requested and not client.agency.allows_scopes(requested.split()):
            raise InvalidScopeError(
                description="the requested scope exceeds what this agency is registered for"
            )


class TokenServer(rfc6749.AuthorizationServer):  # type: ignore[misc]
    def __init__(
        self,
        *,
        registry: ClientRegistry,
        tokens: AccessTokenIssuer,
        citizen_tokens: CitizenTokens,
        introspector: Introspector,
        assertions: FirstUse,
        issuer: str,
        token_endpoint: str,
        pushed_endpoint: str | None = None,
        revocation_endpoint: str | None = None,
        dpop: DpopVerifier | None = None,
        nonces: DpopNonces | None = None,
    ) -> None:
        """``pushed_endpoint``: the pushed-authorization endpoint (RFC 9126), also
        accepted as a client assertion's audience there. ``dpop``: checks the
        ``DPoP`` proofs sent to the token and revocation endpoints (RFC 9449);
        without it a proof is refused. ``nonces``: server nonces (RFC 9449 §8)
        required in the token endpoint's proofs and handed out with each of its
        answers."""
        self._dpop = dpop
        self._nonces = nonces
        self.revocation_endpoint = revocation_endpoint or issuer + "/oauth2/revoke"
        super().__init__(scopes_supported=list(KNOWN_SCOPES))
        self._registry = registry
        self._tokens = tokens
        self.citizen_tokens = citizen_tokens
        self.token_endpoint = token_endpoint
        self.register_grant(ClientCredentials)
        self.register_grant(AuthorizationCode, [GaapCodeChallenge(required=True), GaapOpenIDCode()])
        self.register_grant(RefreshToken)
        self.register_grant(token_exchange_grant(TokenExchange(registry, tokens)))
        self.register_endpoint(Revocation(self, citizen_tokens))
        self.register_endpoint(Introspection(self, introspector))
        self.register_client_auth_method(
            PrivateKeyJwt.CLIENT_AUTH_METHOD,
            PrivateKeyJwt(
                [issuer, token_endpoint, *([pushed_endpoint] if pushed_endpoint else [])],
                assertions,
                issuer,
            ),
        )
        self.register_token_generator("default", self._generate)

    def query_client(self, client_id: str) -> AgencyClient | None:
        if not isinstance(client_id, str) or not 0 < len(client_id) <= 64:
            return None
        agency = self._registry.find_active(client_id)
        return AgencyClient(agency, self._registry) if agency else None

    def _generate(
        self, grant_type: str, client: AgencyClient, scope: str | None = None, **_: Any
    ) -> dict[str, Any]:
        return self.agency_token(client, scope, None)

    def agency_token(
        self, client: AgencyClient, scope: str | None, dpop_jkt: str | None
    ) -> dict[str, Any]:
        """An agency's own access token, bound to its DPoP key when it sent a proof."""
        issued = self._tokens.issue(client.agency, granted_scopes(client.agency, scope), dpop_jkt)
        return {
            "access_token": issued.access_token,
            "token_type": "Bearer" if dpop_jkt is None else "DPoP",
            "expires_in": issued.expires_in,
            "scope": issued.scope,
        }

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        # Access tokens are self-contained JWTs: nothing to store.
        log.info(
            "access token issued",
            extra={"agency": request.client.get_client_id(), "auth_method": request.auth_method},
        )

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        return None

    def create_oauth2_request(self, request: FormRequest) -> FormRequest:
        return request

    def handle_response(self, status: int, body: Any, headers: list[tuple[str, str]]) -> Response:
        merged = [(k, v) for k, v in headers if k.lower() not in ("cache-control", "pragma")]
        merged.extend(NO_STORE.items())
        return status, body, merged

    def token_response(self, form: dict[str, str], headers: Mapping[str, str]) -> Response:
        return self.with_nonce(self._token_response(form, headers))

    def with_nonce(self, response: Response) -> Response:
        """``response`` with a fresh server nonce when nonces are on (RFC 9449
        §8.2: with every answer), at the token and pushed-authorization endpoints."""
        if self._nonces is None:
            return response
        status, body, answer_headers = response
        return status, body, [*answer_headers, (NONCE_HEADER, self._nonces.current())]

    def proof_key(
        self, headers: Mapping[str, str], endpoint: str
    ) -> tuple[str | None, Response | None]:
        """The key thumbprint of the request's DPoP proof for ``endpoint`` (None
        without a proof), or the refusal, by the token endpoint's checks and with
        its server nonces: the pushed-authorization endpoint asks the same."""
        request = FormRequest(endpoint, {}, headers)
        refused = self._read_proof(request, headers, endpoint, self._nonces)
        return request.dpop_jkt, refused

    def _token_response(self, form: dict[str, str], headers: Mapping[str, str]) -> Response:
        request = FormRequest(self.token_endpoint, form, headers)
        refused = self._read_proof(request, headers, self.token_endpoint, self._nonces)
        if refused is not None:
            return refused
        if form.get("grant_type") not in CITIZEN_GRANTS:
            return self._respond(request)
        # A citizen grant's steps share one unit of work: the code or refresh
        # token stays locked until its tokens are recorded. authlib answers an
        # OAuth error itself, so a refusal commits too: a reused code's or
        # family's revocation sticks.
        with self.citizen_tokens.transaction() as uow:
            request.uow = uow
            return self._respond(request)

    def _read_proof(
        self,
        request: FormRequest,
        headers: Mapping[str, str],
        endpoint: str,
        nonces: DpopNonces | None = None,
    ) -> Response | None:
        """Verify the request's DPoP proof, if any, into ``request.dpop_jkt``; or
        the refusal: ``invalid_dpop_proof``, or ``use_dpop_nonce`` with a nonce."""
        proofs = [v for k, v in _all_items(headers) if k.lower() == "dpop"]
        if not proofs:
            return None
        try:
            if len(proofs) > 1:
                raise InvalidDpopProof("send exactly one DPoP header")
            request.dpop_jkt = self._check_dpop(proofs[0], endpoint)
            if nonces is not None:
                nonces.check(proofs[0])
        except UseDpopNonce as stale:
            body = {"error": "use_dpop_nonce", "error_description": stale.message}
            return 400, body, [*NO_STORE.items(), (NONCE_HEADER, stale.nonce)]
        except InvalidDpopProof as invalid:
            body = {"error": "invalid_dpop_proof", "error_description": invalid.message}
            return 400, body, list(NO_STORE.items())
        return None

    def _check_dpop(self, proof: str, endpoint: str) -> str:
        """The thumbprint of the key behind a valid proof for ``endpoint``."""
        if self._dpop is None:
            raise InvalidDpopProof("this server does not accept DPoP proofs")
        return self._dpop.verify(proof, method="POST", uri=endpoint).jkt

    def _respond(self, request: FormRequest) -> Response:
        result: Response = self.create_token_response(request)
        return result

    def authenticated(
        self, form: dict[str, str], headers: Mapping[str, str], endpoint: str
    ) -> AgencyClient | Response:
        """The agency, authenticated exactly as at the token endpoint (any method
        it is registered for, public agencies with ``none``), or authlib's
        ``invalid_client`` response, with the token endpoint's status (401 for
        credentials in a header, 400 in the body)."""
        request = FormRequest(self.token_endpoint, form, headers)
        try:
            client: AgencyClient = self.authenticate_client(request, list(ALL_METHODS), endpoint)
        except OAuth2Error as error:
            refused: Response = self.handle_error_response(request, error)
            return refused
        return client

    def revocation_response(self, form: dict[str, str], headers: Mapping[str, str]) -> Response:
        """RFC 7009: 200 whether or not the token was known; 401 for a bad client.
        A DPoP proof (``htu`` the revocation endpoint) is verified when sent; a
        bound refresh token is revoked only with one by its key."""
        request = FormRequest(self.revocation_endpoint, form, headers)
        refused = self._read_proof(request, headers, self.revocation_endpoint)
        if refused is not None:
            return refused
        result: Response = self.create_endpoint_response(Revocation.ENDPOINT_NAME, request)
        return result

    def introspection_response(self, form: dict[str, str], headers: Mapping[str, str]) -> Response:
        """RFC 7662, for confidential agencies about their own tokens."""
        return self._endpoint_response(Introspection.ENDPOINT_NAME, form, headers)

    def _endpoint_response(
        self, name: str, form: dict[str, str], headers: Mapping[str, str]
    ) -> Response:
        result: Response = self.create_endpoint_response(
            name, FormRequest(self.token_endpoint, form, headers)
        )
        return result
