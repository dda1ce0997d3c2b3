"""Revocation (RFC 7009) and introspection (RFC 7662) on authlib's endpoints.

authlib authenticates the agency (its client authentication, with the methods
each endpoint accepts), parses the request and answers errors; the hooks below
hold GaaP's rules, which differ from authlib's defaults on purpose:

- ``token_type_hint`` is ignored rather than refused when unknown (RFC 7009
  §2.1: "an invalid token type hint value is ignored");
- another agency's token is answered like an unknown one (200 for a revocation,
  ``{"active": false}`` for introspection), never ``invalid_grant``: an agency
  learns nothing about tokens that are not its own;
- what is revoked (a refresh token takes its family) and what introspection
  shows are the use cases' (``CitizenTokens.revoke``, ``Introspector``).
"""

from __future__ import annotations

from typing import Any, ClassVar

from authlib.oauth2.rfc6749 import OAuth2Request
from authlib.oauth2.rfc6749.errors import InvalidGrantError, InvalidRequestError, OAuth2Error
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7662 import IntrospectionEndpoint

from services.identity.domain.citizen_tokens import GrantError
from services.identity.service_layer.citizen_tokens import CitizenTokens
from services.identity.service_layer.introspection import Introspector

CONFIDENTIAL_METHODS = ("client_secret_basic", "client_secret_post", "private_key_jwt")
ALL_METHODS = (*CONFIDENTIAL_METHODS, "none")


class InvalidDpopProofError(OAuth2Error):  # type: ignore[misc]
    """RFC 9449 §5, §7.1: the request's DPoP proof is missing, invalid or unfit."""

    error = "invalid_dpop_proof"
    status_code = 400


class UseDpopNonceError(OAuth2Error):  # type: ignore[misc]
    """RFC 9449 §8: the proof must carry the server's nonce (sent back in
    ``DPoP-Nonce``)."""

    error = "use_dpop_nonce"
    status_code = 400


def _token(request: OAuth2Request) -> str:
    token = request.form.get("token")
    if not token:
        raise InvalidRequestError(description="token is required")
    return str(token)


class Revocation(RevocationEndpoint):  # type: ignore[misc]
    """Public agencies revoke their citizens' tokens too (with ``none``)."""

    CLIENT_AUTH_METHODS: ClassVar[list[str]] = list(ALL_METHODS)

    def __init__(self, server: Any, tokens: CitizenTokens) -> None:
        super().__init__(server)
        self._tokens = tokens

    def check_params(self, request: OAuth2Request, client: Any) -> None:
        _token(request)

    def authenticate_token(self, request: OAuth2Request, client: Any) -> tuple[str, str]:
        """The token and the agency asking: whether it is theirs is the use case's
        question, answered the same way for unknown and foreign tokens."""
        self.check_params(request, client)
        return _token(request), client.agency.client_id

    def revoke_token(self, token: tuple[str, str], request: OAuth2Request) -> None:
        """A bound refresh token needs a proof by its key (``CitizenTokens.revoke``)."""
        value, client_id = token
        try:
            self._tokens.revoke(
                value, client_id, request.form.get("token_type_hint"), request.dpop_jkt
            )
        except GrantError as refused:
            error = InvalidDpopProofError if refused.error == "invalid_dpop_proof" else None
            raise (error or InvalidGrantError)(description=refused.description) from refused


class Introspection(IntrospectionEndpoint):  # type: ignore[misc]
    """Confidential agencies only, about their own tokens."""

    CLIENT_AUTH_METHODS: ClassVar[list[str]] = list(CONFIDENTIAL_METHODS)

    def __init__(self, server: Any, introspector: Introspector) -> None:
        super().__init__(server)
        self._introspector = introspector

    def check_params(self, request: OAuth2Request, client: Any) -> None:
        _token(request)

    def authenticate_token(self, request: OAuth2Request, client: Any) -> dict[str, Any]:
        self.check_params(request, client)
        return self._introspector.introspect(_token(request), client.agency.client_id)

    def create_introspection_payload(self, token: dict[str, Any]) -> dict[str, Any]:
        # The introspector answers inactive for anything expired, revoked,
        # forged or not the caller's; its answer is the payload.
        return token
