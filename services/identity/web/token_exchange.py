"""The token-exchange grant (RFC 8693) on authlib: a client registered with
``identity:act_for_agencies`` (the agency console) gets a short-lived token for
another agency, with an ``act`` claim naming it. The rules are the use case's
(``service_layer/token_exchange.py``); this module is authlib's side: client
authentication (confidential methods only, DPoP when the client must bind), the
form's parameters in, the RFC 8693 §2.2.1 answer out, and the §2.2.2 errors.
"""

from __future__ import annotations

import logging
from typing import Any

from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6749.errors import (
    InvalidRequestError,
    InvalidScopeError,
    OAuth2Error,
    UnauthorizedClientError,
)

from services.identity.domain.citizen_tokens import GrantError
from services.identity.service_layer.token_exchange import (
    ACCESS_TOKEN_TYPE,
    GRANT_TYPE,
    ExchangeRequest,
    TokenExchange,
)
from services.identity.web.oauth_endpoints import CONFIDENTIAL_METHODS, InvalidDpopProofError
from services.identity.web.oauth_grants import DpopRequired

log = logging.getLogger(__name__)


class InvalidTargetError(OAuth2Error):  # type: ignore[misc]
    """RFC 8693 §2.2.2: the server will not issue a token for the named target."""

    error = "invalid_target"
    status_code = 400


_ERRORS: dict[str, type[OAuth2Error]] = {
    "invalid_request": InvalidRequestError,
    "invalid_scope": InvalidScopeError,
    "invalid_target": InvalidTargetError,
    "unauthorized_client": UnauthorizedClientError,
    "invalid_dpop_proof": InvalidDpopProofError,
}


def _oauth_error(refused: GrantError) -> OAuth2Error:
    return _ERRORS.get(refused.error, InvalidRequestError)(description=refused.description)


class TokenExchangeGrant(DpopRequired, grants.BaseGrant, grants.TokenEndpointMixin):  # type: ignore[misc]
    GRANT_TYPE = GRANT_TYPE
    TOKEN_ENDPOINT_AUTH_METHODS = CONFIDENTIAL_METHODS
    exchange: TokenExchange  # set by ``token_exchange_grant``

    def validate_token_request(self) -> None:
        client = self.authenticate_token_endpoint_client()
        try:
            TokenExchange.check_actor(client.agency)
        except GrantError as refused:
            raise _oauth_error(refused) from refused
        self.request.client = client

    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        form: dict[str, str] = self.request.form
        asked = ExchangeRequest(
            subject_token=form.get("subject_token", ""),
            subject_token_type=form.get("subject_token_type", ""),
            scope=form.get("scope", ""),
            requested_token_type=form.get("requested_token_type", ""),
        )
        try:
            done = self.exchange.exchange(
                self.request.client.agency, asked, self.request.dpop_jkt, form
            )
        except GrantError as refused:
            raise _oauth_error(refused) from refused
        body = {
            "access_token": done.token.access_token,
            "issued_token_type": ACCESS_TOKEN_TYPE,
            "token_type": "Bearer" if self.request.dpop_jkt is None else "DPoP",
            "expires_in": done.token.expires_in,
            "scope": done.token.scope,
        }
        return 200, body, list(self.TOKEN_RESPONSE_HEADER)


def token_exchange_grant(exchange: TokenExchange) -> type[TokenExchangeGrant]:
    """The grant class for ``AuthorizationServer.register_grant`` (authlib makes
    one instance per request, so the use case rides on the class)."""

    class Grant(TokenExchangeGrant):
        pass

    Grant.exchange = exchange
    return Grant
