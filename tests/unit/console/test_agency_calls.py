"""The console's AgencyCalls adapter against a token endpoint faked with httpx's
MockTransport: what it sends (token exchange with the console's credentials),
when a token is reused or renewed, per agency and scopes, and DPoP."""

from __future__ import annotations

import base64
from urllib.parse import parse_qsl

import httpx
import jwt
import pytest

from gaap_client import ClientSecret, DpopKey, Targets, TokenError
from gaap_client.token_exchange import ExchangedTokenSource
from services.console.adapters.agency_calls import RENEW_BEFORE, ExchangeAgencyCalls

ENDPOINT = "https://identity.example/oauth2/token"
EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"
CONSOLE = ClientSecret("ag_console", "console-secret")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Endpoint:
    """identity's token endpoint: each request, and a fresh token per answer."""

    def __init__(self, expires_in: int = 300, token_type: str = "Bearer") -> None:
        self.requests: list[httpx.Request] = []
        self.expires_in = expires_in
        self.token_type = token_type
        self.refusal: dict[str, str] | None = None
        self.issued_token_type = ACCESS_TOKEN_TYPE

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.refusal is not None:
            return httpx.Response(400, json=self.refusal)
        return httpx.Response(
            200,
            json={
                "access_token": f"at_{len(self.requests)}",
                "issued_token_type": self.issued_token_type,
                "token_type": self.token_type,
                "expires_in": self.expires_in,
                "scope": self.form()["scope"],
            },
        )

    def form(self, index: int = -1) -> dict[str, str]:
        return dict(parse_qsl(self.requests[index].content.decode()))


def calls_on(
    endpoint: Endpoint, clock: Clock, max_cached: int = 512, dpop: DpopKey | None = None
) -> ExchangeAgencyCalls:
    return ExchangeAgencyCalls(
        ENDPOINT,
        CONSOLE,
        Targets(),
        http=httpx.Client(transport=httpx.MockTransport(endpoint)),
        clock=clock,
        max_cached=max_cached,
        dpop=dpop,
    )


def test_the_exchange_names_the_agency_and_scopes_with_the_consoles_credentials() -> None:
    endpoint = Endpoint()
    calls = calls_on(endpoint, Clock())
    assert calls.token("ag_parks", ("payments:refund", "payments:read")) == "at_1"
    [request] = endpoint.requests
    assert str(request.url) == ENDPOINT
    basic = base64.b64encode(b"ag_console:console-secret").decode()
    assert request.headers["authorization"] == f"Basic {basic}"
    assert "dpop" not in request.headers
    assert endpoint.form() == {
        "grant_type": EXCHANGE,
        "subject_token": "ag_parks",
        "subject_token_type": "urn:gaap:params:oauth:token-type:agency",
        "requested_token_type": ACCESS_TOKEN_TYPE,
        "scope": "payments:read payments:refund",
    }


def test_a_token_is_reused_per_agency_and_scopes_until_shortly_before_expiry() -> None:
    endpoint, clock = Endpoint(), Clock()
    calls = calls_on(endpoint, clock)
    first = calls.token("ag_parks", ("payments:read",))
    clock.now += 300 - RENEW_BEFORE - 1
    # The same scopes in another order or repeated are the same token.
    assert calls.token("ag_parks", ("payments:read", "payments:read")) == first
    assert len(endpoint.requests) == 1
    clock.now += 1
    assert calls.token("ag_parks", ("payments:read",)) == "at_2"
    assert len(endpoint.requests) == 2


def test_another_agency_or_other_scopes_get_their_own_token() -> None:
    endpoint = Endpoint()
    calls = calls_on(endpoint, Clock())
    tokens = {
        calls.token("ag_parks", ("payments:read",)),
        calls.token("ag_parks", ("payments:read", "payments:refund")),
        calls.token("ag_roads", ("payments:read",)),
    }
    assert tokens == {"at_1", "at_2", "at_3"}
    assert [endpoint.form(i)["subject_token"] for i in range(3)] == [
        "ag_parks",
        "ag_parks",
        "ag_roads",
    ]


def test_a_short_lived_token_is_renewed_at_half_its_life() -> None:
    endpoint, clock = Endpoint(expires_in=40), Clock()
    calls = calls_on(endpoint, clock)
    calls.token("ag_parks", ("notify:read",))
    clock.now += 19
    assert calls.token("ag_parks", ("notify:read",)) == "at_1"
    clock.now += 1
    assert calls.token("ag_parks", ("notify:read",)) == "at_2"


def test_the_least_recently_used_agency_is_forgotten_first() -> None:
    endpoint = Endpoint()
    calls = calls_on(endpoint, Clock(), max_cached=2)
    calls.token("ag_a", ("payments:read",))
    calls.token("ag_b", ("payments:read",))
    calls.token("ag_a", ("payments:read",))  # a used again: b is now the oldest
    calls.token("ag_c", ("payments:read",))
    assert calls.token("ag_a", ("payments:read",)) == "at_1"
    assert calls.token("ag_b", ("payments:read",)) == "at_4"  # asked for again


def test_a_refusal_is_a_token_error_with_identitys_code() -> None:
    endpoint = Endpoint()
    endpoint.refusal = {"error": "invalid_scope", "error_description": "exceeds the agency"}
    calls = calls_on(endpoint, Clock())
    with pytest.raises(TokenError) as refused:
        calls.token("ag_parks", ("payments:refund",))
    assert (refused.value.error, refused.value.description) == (
        "invalid_scope",
        "exceeds the agency",
    )


def test_an_answer_that_is_not_an_access_token_is_refused() -> None:
    endpoint = Endpoint()
    endpoint.issued_token_type = "urn:ietf:params:oauth:token-type:refresh_token"
    with pytest.raises(TokenError, match="not an access token"):
        calls_on(endpoint, Clock()).token("ag_parks", ("payments:read",))


def test_with_a_dpop_key_each_exchange_carries_a_proof_and_needs_a_bound_token() -> None:
    key = DpopKey.generate()
    endpoint = Endpoint(token_type="DPoP")
    calls = calls_on(endpoint, Clock(), dpop=key)
    calls.token("ag_parks", ("payments:read",))
    proof = endpoint.requests[0].headers["dpop"]
    header = jwt.get_unverified_header(proof)
    claims = jwt.decode(proof, options={"verify_signature": False})
    assert header["jwk"] == key.public_jwk
    assert (claims["htm"], claims["htu"]) == ("POST", ENDPOINT)

    unbound = calls_on(Endpoint(token_type="Bearer"), Clock(), dpop=key)
    with pytest.raises(TokenError, match="not bound"):
        unbound.token("ag_parks", ("payments:read",))


def test_connect_gives_a_client_on_the_cached_tokens_and_closes_its_channels() -> None:
    endpoint = Endpoint()
    calls = calls_on(endpoint, Clock())
    with calls.connect("ag_parks", ("payments:read",)) as client:
        assert isinstance(client.tokens, ExchangedTokenSource)
        assert client.tokens.agency == "ag_parks"
        assert client.tokens is calls.tokens("ag_parks", ("payments:read",))
        client.channel(client.targets.payments)
        assert client._channels
    assert not client._channels


def test_a_source_needs_an_agency_and_scopes() -> None:
    for agency, scopes in (("", ("payments:read",)), ("ag_parks", ())):
        with pytest.raises(ValueError, match="agency and the scopes"):
            ExchangedTokenSource(ENDPOINT, CONSOLE, agency=agency, scopes=scopes)
