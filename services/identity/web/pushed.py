"""The pushed-authorization endpoint (RFC 9126 §2): the agency authenticates as
at the token endpoint, its authorization request is checked by the
authorization endpoint's rules, and it gets a ``request_uri`` for /authorize.

A ``DPoP`` proof sent with the push (RFC 9449 §10.1, ``htm`` POST, ``htu``
this endpoint) binds the code to its key, as ``dpop_jkt`` would."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from services.identity.domain.authorization import AuthorizationError
from services.identity.service_layer.pushed_requests import PushedRequests
from services.identity.web.oauth_server import NO_STORE, AgencyClient, TokenServer
from services.runtime.dpop import DpopVerifier, InvalidDpopProof

log = logging.getLogger(__name__)

Response = tuple[int, Any, list[tuple[str, str]]]


class PushedAuthorizationEndpoint:
    ENDPOINT_NAME = "pushed_authorization"

    def __init__(
        self,
        server: TokenServer,
        pushed: PushedRequests,
        *,
        endpoint: str,
        dpop: DpopVerifier | None = None,
    ) -> None:
        """``endpoint``: this endpoint's URL, the ``htu`` of its DPoP proofs;
        without ``dpop`` a proof is refused."""
        self._server = server
        self._pushed = pushed
        self._endpoint = endpoint
        self._dpop = dpop

    def respond(self, form: dict[str, str], headers: Mapping[str, str]) -> Response:
        client = self._server.authenticated(form, headers, self.ENDPOINT_NAME)
        if not isinstance(client, AgencyClient):
            return client
        try:
            dpop_jkt = self._proof_key(headers)
            pushed = self._pushed.push(form, client.agency, dpop_jkt)
        except InvalidDpopProof as refused:
            return _refusal("invalid_dpop_proof", refused.message)
        except AuthorizationError as error:  # §2.3: the authorization endpoint's errors
            log.info("pushed authorization request refused", extra={"error": error.error})
            return _refusal(error.error, error.description)
        body: dict[str, Any] = {"request_uri": pushed.request_uri, "expires_in": pushed.expires_in}
        return 201, body, list(NO_STORE.items())

    def _proof_key(self, headers: Mapping[str, str]) -> str | None:
        """The thumbprint of the key behind the request's DPoP proof, if it sent one."""
        # Starlette's Headers.items() lists a repeated header once per value.
        proofs = [value for name, value in headers.items() if name.lower() == "dpop"]
        if not proofs:
            return None
        if len(proofs) > 1:
            raise InvalidDpopProof("send exactly one DPoP header")
        if self._dpop is None:
            raise InvalidDpopProof("this server does not accept DPoP proofs")
        return self._dpop.verify(proofs[0], method="POST", uri=self._endpoint).jkt


def _refusal(error: str, description: str) -> Response:
    return 400, {"error": error, "error_description": description}, list(NO_STORE.items())
