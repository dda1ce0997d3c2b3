"""Token exchange's use case (RFC 8693) on in-memory fakes: what the delegated
token carries, and the rules HTTP tests cannot reach with identity's defaults
(the five-minute cap under a longer agency-token lifetime)."""

from __future__ import annotations

import pytest

from services.identity.domain.agencies import Agency
from services.identity.domain.citizen_tokens import GrantError
from services.identity.service_layer.token_exchange import (
    AGENCY_TOKEN_TYPE,
    MAX_TTL,
    ExchangeRequest,
    TokenExchange,
)
from services.identity.service_layer.tokens import AccessTokenIssuer
from services.runtime.access_tokens import AccessTokenVerifier, audience_for
from services.runtime.keys import KeyCache
from tests.unit.identity.token_world import ISSUER, World, agency, world

CONSOLE = agency("ag_console", scopes=("identity:act_for_agencies", "identity:agencies"))
TARGET = agency("ag_target", scopes=("payments:read", "payments:refund", "notify:send"))


class Registry:
    def __init__(self, *agencies: Agency) -> None:
        self.agencies = {a.client_id: a for a in agencies}

    def find_active(self, client_id: str) -> Agency | None:
        found = self.agencies.get(client_id)
        return found if found is not None and not found.disabled else None


def exchange_for(w: World, ttl: int) -> TokenExchange:
    issuer = AccessTokenIssuer(w.keys, issuer=ISSUER, ttl_seconds=ttl, clock=w.clock.timestamp)
    return TokenExchange(Registry(CONSOLE, TARGET), issuer)


def asked(scope: str = "payments:read", subject: str = "ag_target") -> ExchangeRequest:
    return ExchangeRequest(subject, AGENCY_TOKEN_TYPE, scope)


@pytest.mark.parametrize(("ttl", "expected"), [(3600, MAX_TTL), (120, 120)])
def test_a_delegated_token_lives_at_most_five_minutes(ttl: int, expected: int) -> None:
    w = world()
    done = exchange_for(w, ttl).exchange(CONSOLE, asked(), None)
    assert done.token.expires_in == expected
    verifier = AccessTokenVerifier(
        issuer=ISSUER,
        audience=audience_for("payments"),
        keys=KeyCache(w.keys.jwks, max_age=0, min_refresh_interval=0),
        clock=w.clock.timestamp,
    )
    principal = verifier.verify(done.token.access_token)
    assert principal.expires_at - int(w.clock.timestamp()) == expected
    assert (principal.client_id, principal.actor) == ("ag_target", "ag_console")


def test_scopes_are_deduplicated_in_the_order_asked() -> None:
    done = exchange_for(world(), 300).exchange(
        CONSOLE, asked("notify:send payments:read notify:send"), None
    )
    assert done.token.scope == "notify:send payments:read"


@pytest.mark.parametrize(
    "actor",
    [
        agency("ag_plain", scopes=("payments:read",)),
        agency("ag_public", scopes=("identity:act_for_agencies",), auth_methods=("none",)),
    ],
)
def test_only_confidential_clients_with_the_scope_may_exchange(actor: Agency) -> None:
    with pytest.raises(GrantError) as refused:
        exchange_for(world(), 300).exchange(actor, asked(), None)
    assert refused.value.error == "unauthorized_client"


@pytest.mark.parametrize(
    "scope", ["identity:tokens", "payments:read identity:tokens", "identity:agencies"]
)
def test_identity_scopes_are_never_exchanged_even_when_the_subject_holds_them(
    scope: str,
) -> None:
    holder = agency("ag_holder", scopes=("payments:read", "identity:tokens", "identity:agencies"))
    w = world()
    issuer = AccessTokenIssuer(w.keys, issuer=ISSUER, ttl_seconds=300, clock=w.clock.timestamp)
    with pytest.raises(GrantError) as refused:
        TokenExchange(Registry(CONSOLE, holder), issuer).exchange(
            CONSOLE, asked(scope, subject="ag_holder"), None
        )
    assert (refused.value.error, refused.value.description) == (
        "invalid_scope",
        "token exchange grants payments and notify scopes only",
    )


@pytest.mark.parametrize(
    "scope",
    ["payments:create payments:read payments:refund", "notify:send notify:templates notify:read"],
)
def test_every_payments_and_notify_scope_the_subject_holds_is_exchangeable(scope: str) -> None:
    every = agency(
        "ag_every",
        scopes=(*scope.split(), "identity:tokens"),
    )
    w = world()
    issuer = AccessTokenIssuer(w.keys, issuer=ISSUER, ttl_seconds=300, clock=w.clock.timestamp)
    done = TokenExchange(Registry(CONSOLE, every), issuer).exchange(
        CONSOLE, asked(scope, subject="ag_every"), None
    )
    assert done.token.scope == scope
