"""Token exchange (RFC 8693): a token for an agency, to a client that acts for it.

The agency console calls payments and notify as a team's agency. It asks the
token endpoint for a token whose ``client_id`` is that agency (so each service
applies the agency's tenant, mode and scopes unchanged) and whose ``act`` claim
names the console (RFC 8693 §4.1). Only a client registered with the operator
scope ``identity:act_for_agencies`` may ask; the token carries at most the
agency's own payments and notify scopes and lives at most five minutes.

The subject is named by client id, with GaaP's own token type URI (RFC 8693 §3
lets a server define more): ``urn:gaap:params:oauth:token-type:agency``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from services.identity.domain.agencies import Agency
from services.identity.domain.citizen_tokens import GrantError
from services.identity.domain.scopes import AGENCY_SCOPES, service_of
from services.identity.service_layer.token_ports import ActiveAgencies
from services.identity.service_layer.tokens import AccessTokenIssuer, IssuedToken

log = logging.getLogger(__name__)

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:token-exchange"
AGENCY_TOKEN_TYPE = "urn:gaap:params:oauth:token-type:agency"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"
ACT_FOR_AGENCIES = "identity:act_for_agencies"
MAX_TTL = 300  # seconds: a delegated token is short-lived whatever the agency tokens' TTL
MAX_CLIENT_ID = 64
# The console acts for an agency at payments and notify only: identity's own
# agency scopes (identity:tokens introspects and revokes the agency's tokens,
# reads its citizens' UserInfo) stay with the agency's own credentials.
EXCHANGEABLE_SERVICES = frozenset({"payments", "notify"})
EXCHANGEABLE_SCOPES = frozenset(s for s in AGENCY_SCOPES if service_of(s) in EXCHANGEABLE_SERVICES)
# RFC 8693 parameters GaaP does not take: the acting party is the authenticated
# client, and a token's audiences follow from its scopes.
_REFUSED: Mapping[str, tuple[str, str]] = {
    "actor_token": ("invalid_request", "actor_token is not accepted: the client is the actor"),
    "actor_token_type": ("invalid_request", "actor_token_type is not accepted"),
    "audience": ("invalid_target", "audience is not accepted: scopes decide the audiences"),
    "resource": ("invalid_target", "resource is not accepted: scopes decide the audiences"),
}


@dataclass(frozen=True)
class ExchangeRequest:
    subject_token: str
    subject_token_type: str
    scope: str
    requested_token_type: str = ""


@dataclass(frozen=True)
class Exchanged:
    token: IssuedToken
    subject: Agency


class TokenExchange:
    def __init__(self, registry: ActiveAgencies, tokens: AccessTokenIssuer) -> None:
        self._registry = registry
        self._tokens = tokens

    @staticmethod
    def check_actor(actor: Agency) -> None:
        """Whether ``actor`` may use the grant at all (before anything else is read)."""
        if actor.public or ACT_FOR_AGENCIES not in actor.scopes:
            raise GrantError(
                "unauthorized_client",
                f"token exchange needs a confidential client registered with {ACT_FOR_AGENCIES}",
            )

    def exchange(
        self,
        actor: Agency,
        request: ExchangeRequest,
        dpop_jkt: str | None,
        extra: Mapping[str, str] | None = None,
    ) -> Exchanged:
        """A token for the subject agency, naming ``actor`` in ``act``; bound to
        ``dpop_jkt`` when the request carried a proof (and refused without one
        when the subject agency's tokens must be bound). ``extra``: the request's
        other parameters, to refuse those GaaP does not take."""
        self.check_actor(actor)
        for name, (error, description) in _REFUSED.items():
            if extra and extra.get(name):
                raise GrantError(error, description)
        _check_types(request)
        subject = self._subject(actor, request.subject_token)
        scopes = _scopes(subject, request.scope)
        issued = self._tokens.issue(
            subject, scopes, dpop_jkt, actor=actor.client_id, max_ttl=MAX_TTL
        )
        log.info(
            "acting for an agency",
            extra={"agency": subject.client_id, "actor": actor.client_id, "scope": issued.scope},
        )
        return Exchanged(issued, subject)

    def _subject(self, actor: Agency, client_id: str) -> Agency:
        if not client_id or len(client_id) > MAX_CLIENT_ID:
            raise GrantError("invalid_request", "subject_token must be an agency's client id")
        if client_id == actor.client_id:
            raise GrantError(
                "invalid_request", "a client cannot act for itself: use client_credentials"
            )
        subject = self._registry.find_active(client_id)
        if subject is None:
            raise GrantError("invalid_request", "subject_token names no active agency")
        return subject


def _check_types(request: ExchangeRequest) -> None:
    if request.subject_token_type != AGENCY_TOKEN_TYPE:
        raise GrantError("invalid_request", f"subject_token_type must be {AGENCY_TOKEN_TYPE}")
    if request.requested_token_type not in ("", ACCESS_TOKEN_TYPE):
        raise GrantError("invalid_request", f"requested_token_type can only be {ACCESS_TOKEN_TYPE}")


def _scopes(subject: Agency, scope: str) -> tuple[str, ...]:
    """The requested scopes, each a payments or notify scope the subject is
    registered for: acting for an agency never reaches identity's scopes
    (operator ones or identity:tokens), even one it holds."""
    requested = tuple(dict.fromkeys(scope.split()))
    if not requested:
        raise GrantError("invalid_scope", "name the scopes the token needs")
    if not all(s in EXCHANGEABLE_SCOPES for s in requested):
        raise GrantError("invalid_scope", "token exchange grants payments and notify scopes only")
    if not subject.allows_scopes(requested):
        raise GrantError(
            "invalid_scope", "the requested scope exceeds what the subject agency is registered for"
        )
    return requested
