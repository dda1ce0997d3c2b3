"""The pushed-authorization endpoint (RFC 9126 §2): the agency authenticates as
at the token endpoint, its authorization request is checked by the
authorization endpoint's rules, and it gets a ``request_uri`` for /authorize.

A ``DPoP`` proof sent with the push (RFC 9449 §10.1, ``htm`` POST, ``htu``
this endpoint) binds the code to its key, as ``dpop_jkt`` would. The proof is
checked as at the token endpoint, by its code: with server nonces on, one
without a good nonce is refused ``use_dpop_nonce`` with a ``DPoP-Nonce``, and
every answer carries a fresh one."""

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

    def __init__(self, server: TokenServer, pushed: PushedRequests, *, endpoint: str) -> None:
        """``endpoint``: this endpoint's URL, the ``htu`` of its DPoP proofs; the
        token server checks them (without its verifier a proof is refused)."""
        self._server = server
        self._pushed = pushed
        self._endpoint = endpoint

    def respond(self, form: dict[str, str], headers: Mapping[str, str]) -> Response:
        return self._server.with_nonce(self._respond(form, headers))

    def _respond(self, form: dict[str, str], headers: Mapping[str, str]) -> Response:
        # The proof first, as at the token endpoint: a use_dpop_nonce retry can
        # then send the same client assertion, which is not yet used up.
        dpop_jkt, refused = self._server.proof_key(headers, self._endpoint)
        if refused is not None:
            return refused
        client = self._server.authenticated(form, headers, self.ENDPOINT_NAME)
        if not isinstance(client, AgencyClient):
            return client
        try:
            pushed = self._pushed.push(form, client.agency, dpop_jkt)
        except AuthorizationError as error:  # §2.3: the authorization endpoint's errors
            log.info("pushed authorization request refused", extra={"error": error.error})
            return _refusal(error.error, error.description)
        body: dict[str, Any] = {"request_uri": pushed.request_uri, "expires_in": pushed.expires_in}
        return 201, body, list(NO_STORE.items())


def _refusal(error: str, description: str) -> Response:
    return 400, {"error": error, "error_description": description}, list(NO_STORE.items())
