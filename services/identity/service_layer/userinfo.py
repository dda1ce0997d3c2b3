"""The claims a citizen's access token gives access to (OIDC Core §5.3), shared
by the UserInfo endpoint (HTTP) and ``GetUserInfo`` (gRPC)."""

from __future__ import annotations

from collections.abc import Callable

from services.identity.service_layer.citizen_tokens import CitizenTokens
from services.identity.service_layer.token_ports import ActiveAgencies
from services.runtime.access_tokens import AccessTokenVerifier
from services.runtime.dpop import bound_key
from services.runtime.errors import Unauthenticated


class UserInfoClaims:
    def __init__(
        self, verifier: AccessTokenVerifier, tokens: CitizenTokens, registry: ActiveAgencies
    ) -> None:
        self._verifier = verifier
        self._tokens = tokens
        self._registry = registry

    def claims_for(
        self,
        token: str,
        caller: str | None = None,
        *,
        presented: Callable[[str | None], None] | None = None,
    ) -> dict[str, object]:
        """The consented claims for a citizen's access token; with ``caller``,
        only for a token issued to that agency. ``presented``: given the key the
        token is bound to (``cnf.jkt``, or None), refuses a token not presented
        as its binding asks (RFC 9449 §7: the UserInfo endpoint's DPoP checks).

        Raises ``Unauthenticated`` for a token that is not an active citizen
        access token (of ``caller``), ``PermissionError`` when it lacks ``openid``.
        """
        principal, token_claims = self._verifier.verify_with_claims(token)
        if presented is not None:
            presented(bound_key(token_claims))
        if caller is not None and principal.client_id != caller:
            raise Unauthenticated("not an access token issued to you")
        record = self._tokens.token_record(principal.token_id)
        if record is None or record.kind != "access":
            raise Unauthenticated("not a citizen's access token")
        if record.revoked_at is not None:
            raise Unauthenticated("the access token has been revoked")
        if "openid" not in principal.scopes:
            raise PermissionError("the token lacks the openid scope")
        agency = self._registry.find_active(principal.client_id)
        if agency is None:
            raise Unauthenticated("the agency is disabled")
        return self._tokens.userinfo_claims(
            record.account_id, agency, principal.scope_order, record.claims
        )
