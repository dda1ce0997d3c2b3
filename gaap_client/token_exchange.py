"""Access tokens for another agency, by token exchange (RFC 8693), for a client
that identity lets act for agencies (the agency console: the operator scope
``identity:act_for_agencies``).

``ExchangedTokenSource`` is a ``TokenSource`` for one agency and one set of
scopes: each token is an ordinary access token of that agency (payments and
notify apply its tenant, mode and scopes), whose ``act`` claim names the client,
cached and renewed before it expires, bound to ``dpop`` when given. A
``GaapClient`` built on it calls the services as that agency::

    tokens = ExchangedTokenSource(token_endpoint, console_credentials,
                                  agency="ag_...", scopes=["payments:read"])
    with GaapClient(tokens, targets) as agency:
        agency.payments.ListPayments(ListPaymentsRequest())
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import httpx

from gaap_client.credentials import Credentials
from gaap_client.dpop import DpopKey
from gaap_client.oauth import TokenRefused
from gaap_client.tokens import TokenError, TokenSource

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:token-exchange"
# GaaP's subject token type: the subject_token is the agency's client id.
AGENCY_TOKEN_TYPE = "urn:gaap:params:oauth:token-type:agency"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"


class ExchangedTokenSource(TokenSource):
    """Tokens for ``agency`` with ``scopes`` (required: a delegated token carries
    only what it is for), asked for with the acting client's ``credentials``.
    Renewed ``renew_before`` seconds before expiry, at most half its lifetime
    (identity gives them five minutes at most)."""

    def __init__(
        self,
        token_endpoint: str,
        credentials: Credentials,
        *,
        agency: str,
        scopes: Sequence[str],
        renew_before: float = 60.0,
        timeout: float = 10.0,
        http: httpx.Client | None = None,
        clock: Callable[[], float] = time.monotonic,
        dpop: DpopKey | None = None,
        audience: str | None = None,
    ) -> None:
        if not agency or not scopes:
            raise ValueError("token exchange needs the agency and the scopes its token is for")
        super().__init__(
            token_endpoint,
            credentials,
            scopes=scopes,
            renew_before=renew_before,
            timeout=timeout,
            http=http,
            clock=clock,
            dpop=dpop,
            audience=audience,
        )
        self.agency = agency

    def _fetch(self) -> None:
        started = self._clock()
        try:
            body = self._oauth.fetch(
                self.token_endpoint,
                grant_type=GRANT_TYPE,
                subject_token=self.agency,
                subject_token_type=AGENCY_TOKEN_TYPE,
                requested_token_type=ACCESS_TOKEN_TYPE,
                scope=" ".join(self.scopes),
            )
        except TokenRefused as refused:
            raise TokenError(refused.error, refused.description) from None
        if "access_token" not in body:
            raise TokenError("invalid_token_response", "no access_token in the answer")
        if body.get("issued_token_type") != ACCESS_TOKEN_TYPE:
            raise TokenError("invalid_token_response", "the answer is not an access token")
        if self.dpop is not None and str(body.get("token_type", "")).lower() != "dpop":
            raise TokenError("invalid_token_response", "the token is not bound to the DPoP key")
        lifetime = float(body.get("expires_in") or 60)
        self._token = str(body["access_token"])
        self._renew_at = started + lifetime - min(self._renew_before, lifetime / 2)
        self.issued += 1
