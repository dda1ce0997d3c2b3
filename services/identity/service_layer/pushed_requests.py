"""Pushed authorization requests (RFC 9126): an agency posts its authorization
request to /par, authenticated as at the token endpoint, and gets back a
``request_uri`` that the citizen's browser then carries to /authorize with
nothing but the ``client_id``.

The request is checked when it is pushed, by the authorization endpoint's rules
(``authorization.parse``, after its signed request object, if any, is verified
by ``RequestObjects``), and kept in identity's database so any replica can
take it: once, within 60 seconds, by the agency that pushed it.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

from services.identity.domain import pushed_requests
from services.identity.domain.agencies import Agency
from services.identity.domain.authorization import AuthorizationRequest
from services.identity.domain.pushed_requests import LIFETIME, URN_PREFIX, StoredPush
from services.identity.service_layer import request_objects
from services.identity.service_layer.request_objects import RequestObjects
from services.identity.service_layer.unit_of_work import IdentityTransactions
from services.runtime.clock import Clock, utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Pushed:
    request_uri: str
    expires_in: int


class PushedRequests:
    def __init__(
        self,
        uow: IdentityTransactions,
        objects: RequestObjects,
        clock: Clock = utcnow,
        *,
        required_for_all: bool = False,
    ) -> None:
        self._uow = uow
        self.objects = objects
        self._clock = clock
        self.required_for_all = required_for_all

    def push(
        self, params: Mapping[str, str], agency: Agency, dpop_jkt: str | None = None
    ) -> Pushed:
        """Check and keep ``params`` for ``agency`` (already authenticated),
        bound to ``dpop_jkt``, the key of a DPoP proof sent with them;
        ``AuthorizationError`` for a request /authorize would refuse."""
        pushed_requests.refuse_request_uri(params)  # RFC 9126 §2.1, beside a request object too
        effective, found = self.objects.unpack(params, agency)
        request = pushed_requests.parse_push(effective, agency)
        request = pushed_requests.bind_dpop_key(request, dpop_jkt)
        request_uri = URN_PREFIX + secrets.token_urlsafe(32)  # 256 bits
        with self._uow() as uow:
            request_objects.spend(uow.assertions, found, agency)
            uow.pushed_requests.add(
                pushed_requests.uri_hash(request_uri),
                StoredPush(agency.client_id, request, self._clock() + LIFETIME),
            )
        log.info("authorization request pushed", extra={"agency": agency.client_id})
        return Pushed(request_uri, int(LIFETIME.total_seconds()))

    def take(self, request_uri: str, agency: Agency) -> AuthorizationRequest:
        """The request ``agency`` pushed as ``request_uri``, used up now;
        ``AuthorizationError`` (never redirected) if it is unknown, used,
        expired or another agency's."""
        pushed_requests.check_request_uri(request_uri)
        with self._uow() as uow:
            stored = uow.pushed_requests.take(
                pushed_requests.uri_hash(request_uri), agency.client_id
            )
        return pushed_requests.taken(stored, agency.client_id, self._clock())

    def required(self, agency: Agency) -> bool:
        """Whether ``agency``'s requests must be pushed (its own setting, or the operator's)."""
        return pushed_requests.required(agency, self.required_for_all)

    def purge(self) -> int:
        with self._uow() as uow:
            return uow.pushed_requests.purge(self._clock())
