"""The pushed-authorization endpoint (RFC 9126 §2): the agency authenticates as
at the token endpoint, its authorization request is checked by the
authorization endpoint's rules, and it gets a ``request_uri`` for /authorize."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from services.identity.domain.authorization import AuthorizationError
from services.identity.service_layer.pushed_requests import PushedRequests
from services.identity.web.oauth_server import NO_STORE, AgencyClient, TokenServer

log = logging.getLogger(__name__)

Response = tuple[int, Any, list[tuple[str, str]]]


class PushedAuthorizationEndpoint:
    ENDPOINT_NAME = "pushed_authorization"

    def __init__(self, server: TokenServer, pushed: PushedRequests) -> None:
        self._server = server
        self._pushed = pushed

    def respond(self, form: dict[str, str], headers: Mapping[str, str]) -> Response:
        client = self._server.authenticated(form, headers, self.ENDPOINT_NAME)
        if not isinstance(client, AgencyClient):
            return client
        try:
            pushed = self._pushed.push(form, client.agency)
        except AuthorizationError as error:  # §2.3: the authorization endpoint's errors
            log.info("pushed authorization request refused", extra={"error": error.error})
            refusal = {"error": error.error, "error_description": error.description}
            return 400, refusal, list(NO_STORE.items())
        body: dict[str, Any] = {"request_uri": pushed.request_uri, "expires_in": pushed.expires_in}
        return 201, body, list(NO_STORE.items())
