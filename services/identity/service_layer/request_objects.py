"""Signed request objects (RFC 9101), as the authorization and pushed
authorization endpoints take them: verified against the agency's registered
keys, and a request object with a ``jti`` taken once.

The ``jti`` is recorded where client assertions' are (``AssertionLedger``), so
every replica sees it: a request object replayed anywhere is refused.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from services.identity.domain import request_objects
from services.identity.domain.agencies import Agency
from services.identity.domain.request_objects import RequestObject
from services.identity.service_layer.token_ports import AssertionLedger
from services.identity.service_layer.unit_of_work import IdentityTransactions
from services.runtime.clock import Clock, utcnow

log = logging.getLogger(__name__)


class RequestObjects:
    def __init__(self, uow: IdentityTransactions, issuer: str, clock: Clock = utcnow) -> None:
        self._uow = uow
        self._issuer = issuer
        self._clock = clock

    def unpack(
        self, params: Mapping[str, str], agency: Agency
    ) -> tuple[Mapping[str, str], RequestObject | None]:
        """The request's parameters (its request object's, once verified) and
        the request object; ``AuthorizationError`` if it is refused."""
        return request_objects.unpack(params, agency, self._issuer, self._clock())

    def spend(self, found: RequestObject | None, agency: Agency) -> None:
        """Record ``found``'s ``jti`` as used; refused if it was used before."""
        if found is None or found.ledger_jti is None:
            return
        with self._uow() as uow:
            spend(uow.assertions, found, agency)


def spend(ledger: AssertionLedger, found: RequestObject | None, agency: Agency) -> None:
    """``RequestObjects.spend`` in the caller's unit of work."""
    if found is None or found.ledger_jti is None:
        return
    if not ledger.first_use(agency.client_id, found.ledger_jti, found.expires_at):
        log.info("request object replayed", extra={"agency": agency.client_id})
        raise request_objects.reused()
