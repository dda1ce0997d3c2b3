"""The citizen's grants on authlib: authorization code (RFC 6749 §4.1, with
``CodeChallenge`` for PKCE and ``OpenIDCode`` for the ID token) and refresh
token (§6).

authlib runs the protocol (client authentication, the grant-type check, the
redirect_uri comparison, the order of the steps, the response); GaaP's rules
live in its hooks, each a step of ``CitizenTokens``:

- ``query_authorization_code``/``authenticate_refresh_token``: a second use of a
  code or of a rotated refresh token revokes what it gave (``Reused``), and the
  token endpoint commits that before answering ``invalid_grant``;
- ``CodeChallenge.validate_code_verifier``: PKCE is required and every refusal
  is ``invalid_grant`` (authlib would answer ``invalid_request`` for a missing
  verifier);
- ``authenticate_user``: the code or refresh token is used up only once
  everything checked out, then tokens are issued and recorded (pairwise
  subjects, levels of assurance, consented claims: ``CitizenTokens._issue``).

The steps run in one unit of work opened by ``TokenServer`` around authlib's
``create_token_response``, so the row lock taken when the code or refresh token
is read holds until the tokens are recorded.
"""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6749.errors import (
    InvalidGrantError,
    InvalidRequestError,
    InvalidScopeError,
    OAuth2Error,
)
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import OpenIDCode

from services.identity.domain.agencies import Agency
from services.identity.domain.citizen_tokens import (
    GrantError,
    StoredCode,
    TokenRecord,
    TokenSet,
)
from services.identity.domain.dpop_binding import PROOF_REQUIRED, proof_required
from services.identity.service_layer.citizen_tokens import CitizenTokens, check_verifier
from services.identity.service_layer.token_ports import TokenWork
from services.identity.web.oauth_endpoints import ALL_METHODS, InvalidDpopProofError

_ERRORS: dict[str, type[OAuth2Error]] = {
    "invalid_grant": InvalidGrantError,
    "invalid_request": InvalidRequestError,
    "invalid_scope": InvalidScopeError,
    "invalid_dpop_proof": InvalidDpopProofError,
}
CITIZEN_GRANTS = ("authorization_code", "refresh_token")


def oauth_error(error: GrantError) -> OAuth2Error:
    return _ERRORS.get(error.error, InvalidGrantError)(description=error.description)


class Code:
    """A stored code as authlib's ``AuthorizationCodeMixin`` sees it."""

    def __init__(self, stored: StoredCode) -> None:
        self.stored = stored

    def get_redirect_uri(self) -> str:
        return self.stored.redirect_uri

    def get_scope(self) -> str:
        return self.stored.scope

    def get_nonce(self) -> str | None:
        return self.stored.nonce

    def get_auth_time(self) -> int:
        return int(self.stored.auth_time.timestamp())

    def get_acr(self) -> str:
        return self.stored.acr

    def get_amr(self) -> list[str]:
        return list(self.stored.amr)


class RefreshCredential:
    """A refresh token's record as authlib's grant sees it."""

    def __init__(self, record: TokenRecord) -> None:
        self.record = record

    def check_client(self, client: Any) -> bool:
        return bool(self.record.client_id == client.get_client_id())

    def get_scope(self) -> str:
        return self.record.scope


class DpopRequired:
    """Every grant: an agency that must bind its tokens to a DPoP key
    (``dpop_bound_access_tokens``, the fapi2 profile; RFC 9449 §5.2) is refused
    ``invalid_dpop_proof`` without a proof, right after it authenticates and
    before a code or refresh token is looked at."""

    request: Any

    def authenticate_token_endpoint_client(self) -> Any:
        client = super().authenticate_token_endpoint_client()  # type: ignore[misc]
        if self.request.dpop_jkt is None and proof_required(client.agency):
            raise InvalidDpopProofError(
                description=f"{PROOF_REQUIRED}: this agency's access tokens must be bound "
                "to a DPoP key; send a DPoP header"
            )
        return client


class _CitizenGrant(DpopRequired):
    """What both grants share: the unit of work and the use cases, from the server."""

    request: Any
    server: Any

    @property
    def tokens(self) -> CitizenTokens:
        tokens: CitizenTokens = self.server.citizen_tokens
        return tokens

    @property
    def uow(self) -> TokenWork:
        uow: TokenWork = self.request.uow
        return uow

    @property
    def agency(self) -> Agency:
        agency: Agency = self.request.client.agency
        return agency


class AuthorizationCode(_CitizenGrant, grants.AuthorizationCodeGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = ALL_METHODS

    def query_authorization_code(self, code: str, client: Any) -> Code:
        if not code:
            raise InvalidRequestError(description="code is required")
        self.tokens.ready(client.agency)  # before the unit of work's first statement
        try:
            return Code(self.tokens.open_code(self.uow, client.agency, code))
        except GrantError as refused:
            raise oauth_error(refused) from refused

    def authenticate_user(self, authorization_code: Code) -> TokenSet:
        """Everything checked out: the code is used up and the tokens issued."""
        try:
            return self.tokens.exchange_code(
                self.uow, self.agency, authorization_code.stored, self.request.dpop_jkt
            )
        except GrantError as refused:
            raise oauth_error(refused) from refused

    def generate_token(self, user: TokenSet, **_: Any) -> dict[str, Any]:
        body = user.response()
        # The ID token is minted with the access token (at_hash, one signer
        # snapshot); OpenIDCode's hook places it (``GaapOpenIDCode``).
        self.request.id_token = body.pop("id_token", None)
        return body

    def save_token(self, token: dict[str, Any]) -> None:
        """Recorded by ``exchange_code``, in the unit of work."""

    def delete_authorization_code(self, authorization_code: Code) -> None:
        """Used up (not deleted: a second use must find it) by ``exchange_code``."""


class GaapCodeChallenge(CodeChallenge):  # type: ignore[misc]
    """PKCE with S256 only, required of every agency, refused as ``invalid_grant``."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]  # noqa: RUF012 - authlib's attribute

    def validate_code_verifier(self, grant: Any, result: Any) -> None:
        code: Code = grant.request.authorization_code
        try:
            check_verifier(code.stored, grant.request.form.get("code_verifier"))
        except GrantError as refused:
            raise oauth_error(refused) from refused


class GaapOpenIDCode(OpenIDCode):  # type: ignore[misc]
    """The ID token is ``CitizenTokens``' (GaaP's claims, signer and clock)."""

    def process_token(self, grant: Any, response: Any) -> Any:
        _, token, _ = response
        id_token = getattr(grant.request, "id_token", None)
        if id_token:
            token["id_token"] = id_token
        return token


class RefreshToken(_CitizenGrant, grants.RefreshTokenGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = ALL_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token: str) -> RefreshCredential:
        if not refresh_token:
            raise InvalidRequestError(description="refresh_token is required")
        self.tokens.ready(self.agency)  # before the unit of work's first statement
        try:
            record = self.tokens.open_refresh(self.uow, self.agency, refresh_token)
        except GrantError as refused:
            raise oauth_error(refused) from refused
        return RefreshCredential(record)

    def authenticate_user(self, refresh_token: RefreshCredential) -> TokenSet:
        """The presented token is used up and new ones issued in its family."""
        try:
            return self.tokens.rotate(
                self.uow,
                self.agency,
                refresh_token.record,
                self.request.payload.scope,
                self.request.dpop_jkt,
            )
        except GrantError as refused:
            raise oauth_error(refused) from refused

    def issue_token(self, user: TokenSet, refresh_token: RefreshCredential) -> dict[str, Any]:
        return user.response()

    def save_token(self, token: dict[str, Any]) -> None:
        """Recorded by ``rotate``, in the unit of work."""

    def revoke_old_credential(self, refresh_token: RefreshCredential) -> None:
        """Used up by ``rotate`` (kept: presenting it again revokes the family)."""
