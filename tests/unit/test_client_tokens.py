"""gaap_client's client-credentials cache on authlib's client, against a token
endpoint faked with httpx's MockTransport: how the agency authenticates, when a
token is reused or renewed, and how refusals surface."""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable
from urllib.parse import parse_qsl

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from gaap_client import ClientSecret, PrivateKeyJwt, TokenError, TokenSource
from tests.support.platform import ASSERTION_TYPE

ENDPOINT = "https://identity.example/oauth2/token"


class Endpoint:
    """The token endpoint: what it was sent, and what it answers."""

    def __init__(self, answer: Callable[[int], httpx.Response] | None = None) -> None:
        self.requests: list[httpx.Request] = []
        self.answer = answer or (
            lambda n: httpx.Response(
                200, json={"access_token": f"at_{n}", "token_type": "Bearer", "expires_in": 300}
            )
        )

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.answer(len(self.requests))

    def form(self, index: int = -1) -> dict[str, str]:
        return dict(parse_qsl(self.requests[index].content.decode()))

    def http(self) -> httpx.Client:
        return httpx.Client(transport=httpx.MockTransport(self))


def test_a_secret_goes_in_http_basic_with_the_grant_and_scopes() -> None:
    endpoint = Endpoint()
    tokens = TokenSource(
        ENDPOINT,
        ClientSecret("agency-1", "s3cret"),
        scopes=["payments:create", "notify:send"],
        http=endpoint.http(),
    )
    assert tokens.token() == "at_1"
    [request] = endpoint.requests
    assert str(request.url) == ENDPOINT
    basic = base64.b64encode(b"agency-1:s3cret").decode()
    assert request.headers["authorization"] == f"Basic {basic}"
    assert endpoint.form() == {
        "grant_type": "client_credentials",
        "scope": "payments:create notify:send",
    }


def test_a_key_signs_a_short_assertion_with_a_fresh_jti_each_time(
    ec_private_key: ec.EllipticCurvePrivateKey,
) -> None:
    endpoint = Endpoint()
    pem = ec_private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    tokens = TokenSource(ENDPOINT, PrivateKeyJwt("agency-2", pem, "k1"), http=endpoint.http())
    tokens.token()
    tokens.invalidate()
    tokens.token()
    claims = []
    for index in (0, 1):
        form = endpoint.form(index)
        assert "authorization" not in endpoint.requests[index].headers
        assert form["client_assertion_type"] == ASSERTION_TYPE
        assertion = form["client_assertion"]
        assert jwt.get_unverified_header(assertion)["kid"] == "k1"
        claims.append(
            jwt.decode(
                assertion, ec_private_key.public_key(), algorithms=["ES256"], audience=ENDPOINT
            )
        )
    for signed in claims:
        assert signed["iss"] == signed["sub"] == "agency-2"
        assert 0 < signed["exp"] - signed["iat"] <= 60
    assert claims[0]["jti"] != claims[1]["jti"]


def test_a_cryptography_key_object_works_too(ec_private_key: ec.EllipticCurvePrivateKey) -> None:
    endpoint = Endpoint()
    key = PrivateKeyJwt("agency-2", ec_private_key, "k1")
    TokenSource(ENDPOINT, key, http=endpoint.http()).token()
    assertion = endpoint.form()["client_assertion"]
    jwt.decode(assertion, ec_private_key.public_key(), algorithms=["ES256"], audience=ENDPOINT)
    assert repr(key) == "PrivateKeyJwt(client_id='agency-2', kid='k1')"  # never the key


def test_a_token_is_reused_until_shortly_before_it_expires() -> None:
    endpoint = Endpoint()
    now = [1000.0]
    tokens = TokenSource(
        ENDPOINT,
        ClientSecret("a", "s"),
        renew_before=60,
        http=endpoint.http(),
        clock=lambda: now[0],
    )
    assert tokens.token() == "at_1"
    now[0] += 239
    assert tokens.token() == "at_1"
    now[0] += 2  # within the last minute
    assert tokens.token() == "at_2"
    assert tokens.issued == 2


def test_a_short_lived_token_is_renewed_at_half_its_life() -> None:
    endpoint = Endpoint(
        lambda n: httpx.Response(200, json={"access_token": f"at_{n}", "expires_in": 30})
    )
    now = [0.0]
    tokens = TokenSource(
        ENDPOINT, ClientSecret("a", "s"), http=endpoint.http(), clock=lambda: now[0]
    )
    tokens.token()
    now[0] = 14.9
    assert tokens.token() == "at_1"
    now[0] = 15.0
    assert tokens.token() == "at_2"


def test_invalidate_forgets_the_token() -> None:
    endpoint = Endpoint()
    tokens = TokenSource(ENDPOINT, ClientSecret("a", "s"), http=endpoint.http())
    tokens.token()
    tokens.invalidate()
    assert tokens.token() == "at_2"


def test_concurrent_callers_share_one_request() -> None:
    gate = threading.Event()

    def slow(n: int) -> httpx.Response:
        gate.wait(5)
        return httpx.Response(200, json={"access_token": f"at_{n}", "expires_in": 300})

    endpoint = Endpoint(slow)
    tokens = TokenSource(ENDPOINT, ClientSecret("a", "s"), http=endpoint.http())
    seen: list[str] = []
    threads = [threading.Thread(target=lambda: seen.append(tokens.token())) for _ in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(0.05)
    gate.set()
    for thread in threads:
        thread.join()
    assert seen == ["at_1"] * 4
    assert len(endpoint.requests) == 1


def test_an_oauth_error_is_a_token_error_with_its_code() -> None:
    endpoint = Endpoint(
        lambda n: httpx.Response(
            401,
            json={"error": "invalid_client", "error_description": 'client "x" is unknown'},
        )
    )
    tokens = TokenSource(ENDPOINT, ClientSecret("a", "wrong"), http=endpoint.http())
    with pytest.raises(TokenError) as refused:
        tokens.token()
    assert refused.value.error == "invalid_client"
    assert refused.value.description == 'client "x" is unknown'


@pytest.mark.parametrize(("status", "body"), [(503, "<html>down</html>"), (200, "[]"), (502, "")])
def test_an_answer_that_is_not_oauth_is_a_token_error_with_the_status(
    status: int, body: str
) -> None:
    endpoint = Endpoint(lambda n: httpx.Response(status, text=body))
    tokens = TokenSource(ENDPOINT, ClientSecret("a", "s"), http=endpoint.http())
    with pytest.raises(TokenError) as refused:
        tokens.token()
    assert refused.value.error == f"http_{status}"


def test_a_transport_failure_is_httpx_own() -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    http = httpx.Client(transport=httpx.MockTransport(down))
    tokens = TokenSource(ENDPOINT, ClientSecret("a", "s"), http=http)
    with pytest.raises(httpx.HTTPError):  # what the demo app waits out at start-up
        tokens.token()
