"""Pushed authorization requests (RFC 9126) against the real identity, on
SQLite and PostgreSQL: the /par endpoint (client authentication as at the token
endpoint, the authorization endpoint's rules, RFC 9126 §2.3 errors), the
request_uri at /authorize (single use, 60 seconds on identity's clock, the
pushing agency's only), the per-agency and operator requirement, and two
replicas sharing the pushed requests through their database."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from gaap.identity.v1 import identity_pb2
from google.protobuf.field_mask_pb2 import FieldMask
from jwt.algorithms import ECAlgorithm

from services.identity import bootstrap as identity_bootstrap
from services.runtime import process
from tests.integration.identity_ops.support import OPERATOR_SCOPES, caller
from tests.integration.oidc.conftest import CITIZEN_SCOPES, Citizen, make_citizen
from tests.support.oidc import (
    CALLBACK,
    AuthRequest,
    CitizenBrowser,
    RelyingParty,
    callback_params,
    pkce_pair,
)
from tests.support.platform import ASSERTION_TYPE, ISSUER, Platform, running_platform

URN = "urn:ietf:params:oauth:request_uri:"


def make_agency(platform: Platform, **options: Any) -> RelyingParty:
    created = platform.admin.registry.create(
        name="Pushed permits", scopes=CITIZEN_SCOPES, redirect_uris=[CALLBACK], **options
    )
    return RelyingParty(platform.identity.http_url, created.agency.client_id, created.client_secret)


@pytest.fixture
def rp(platform: Platform) -> RelyingParty:
    return make_agency(platform)


def request_params(rp: RelyingParty, **extra: str) -> tuple[dict[str, str], AuthRequest]:
    verifier, challenge = pkce_pair()
    state, nonce = uuid.uuid4().hex, uuid.uuid4().hex
    params = {
        "response_type": "code",
        "client_id": rp.client_id,
        "redirect_uri": rp.redirect_uri,
        "scope": "openid email",
        "state": state,
        "nonce": nonce,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        **extra,
    }
    return params, AuthRequest("", state, nonce, verifier)


def push(rp: RelyingParty, params: dict[str, str], **kwargs: Any) -> httpx.Response:
    if "auth" not in kwargs and "data" not in kwargs and rp.client_secret:
        kwargs["auth"] = (rp.client_id, rp.client_secret)
    return httpx.post(rp.base + "/par", data=kwargs.pop("data", params), **kwargs)


def pushed(rp: RelyingParty, **extra: str) -> tuple[str, AuthRequest]:
    params, request = request_params(rp, **extra)
    response = push(rp, params)
    assert response.status_code == 201, response.text
    return response.json()["request_uri"], request


def authorize_url(rp: RelyingParty, **params: str) -> str:
    return f"{rp.base}/authorize?{urlencode({'client_id': rp.client_id, **params})}"


def shown_error(browser: CitizenBrowser, url: str, description: str) -> None:
    """Refused on identity's own page, never redirected to the agency."""
    response = browser.get(url)
    assert response.status_code == 400, response.text[:500]
    assert "location" not in response.headers
    assert description in response.text


def test_discovery_advertises_the_endpoint_and_no_requirement(platform: Platform) -> None:
    document = httpx.get(platform.identity.http_url + "/.well-known/openid-configuration").json()
    assert document["pushed_authorization_request_endpoint"] == ISSUER + "/par"
    assert document["require_pushed_authorization_requests"] is False


def test_the_whole_code_flow_through_par_with_a_reloaded_sign_in_page(
    platform: Platform, rp: RelyingParty, citizen: Citizen, citizen_browser: CitizenBrowser
) -> None:
    params, request = request_params(rp, scope="openid email", acr_values="Cl.Cm")
    response = push(rp, params)
    assert response.status_code == 201, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert set(body) == {"request_uri", "expires_in"}
    assert body["expires_in"] == 60
    assert body["request_uri"].startswith(URN)
    assert len(body["request_uri"].removeprefix(URN)) >= 43  # 256 random bits, base64url

    browser = citizen_browser
    page = browser.follow(browser.get(authorize_url(rp, request_uri=body["request_uri"])))
    assert 'name="password"' in page.text
    reloaded = browser.get(str(page.url))  # a reload keeps the pending request
    assert reloaded.status_code == 200
    assert 'name="password"' in reloaded.text
    done = browser.sign_in(str(page.url), citizen.email, citizen.password, citizen.totp_secret)
    back = callback_params(done)
    assert back["state"] == request.state
    assert back["iss"] == ISSUER
    tokens = rp.redeem(back["code"], request.verifier)
    assert tokens.status_code == 200, tokens.text
    claims = jwt.decode(tokens.json()["id_token"], options={"verify_signature": False})
    assert claims["nonce"] == request.nonce
    assert claims["acr"] == "Cl.Cm"  # the pushed acr_values were honoured


def test_parameters_beside_request_uri_are_ignored(
    rp: RelyingParty, citizen: Citizen, citizen_browser: CitizenBrowser
) -> None:
    request_uri, request = pushed(rp)
    url = authorize_url(
        rp,
        request_uri=request_uri,
        redirect_uri="https://evil.example/callback",
        state="not-the-pushed-one",
        scope="openid phone",
        prompt="none",
    )
    done = citizen_browser.sign_in(url, citizen.email, citizen.password, citizen.totp_secret)
    assert done.headers["location"].startswith(CALLBACK + "?")
    assert callback_params(done)["state"] == request.state


def test_a_request_uri_is_used_once(rp: RelyingParty, citizen_browser: CitizenBrowser) -> None:
    request_uri, _ = pushed(rp)
    url = authorize_url(rp, request_uri=request_uri)
    first = citizen_browser.get(url)
    assert first.status_code == 303
    assert first.headers["location"].startswith("/signin?auth=")
    shown_error(citizen_browser, url, "request_uri is unknown or already used")


def test_a_request_uri_expires_after_60_seconds_on_identitys_clock(
    platform: Platform, rp: RelyingParty, citizen_browser: CitizenBrowser
) -> None:
    expiring, _ = pushed(rp)
    platform.clock.advance(timedelta(seconds=61))
    shown_error(citizen_browser, authorize_url(rp, request_uri=expiring), "request_uri has expired")


def test_another_agencys_unknown_or_malformed_request_uri_is_refused_unredirected(
    platform: Platform, rp: RelyingParty, citizen_browser: CitizenBrowser
) -> None:
    request_uri, _ = pushed(rp)
    other = make_agency(platform)
    shown_error(
        citizen_browser,
        authorize_url(other, request_uri=request_uri, redirect_uri=CALLBACK),
        "request_uri is unknown or already used",
    )
    shown_error(
        citizen_browser,
        authorize_url(rp, request_uri=URN + "A" * 43),
        "request_uri is unknown or already used",
    )
    shown_error(
        citizen_browser,
        authorize_url(rp, request_uri="https://rp.example.gov/request.jwt"),
        "request_uri is not valid",
    )
    unknown_client = (
        f"{rp.base}/authorize?{urlencode({'client_id': 'ag_nobody', 'request_uri': request_uri})}"
    )
    shown_error(citizen_browser, unknown_client, "unknown or disabled client_id")
    # Another agency's attempt did not use it up: its own agency still can.
    assert citizen_browser.get(authorize_url(rp, request_uri=request_uri)).status_code == 303


def test_par_authenticates_the_client_as_the_token_endpoint_does(
    platform: Platform, rp: RelyingParty
) -> None:
    params, _ = request_params(rp)
    assert rp.client_secret
    posted = push(rp, params, data={**params, "client_secret": rp.client_secret}, auth=None)
    assert posted.status_code == 201, posted.text  # client_secret_post
    for auth in ((rp.client_id, "wrong"), ("ag_nobody", "x")):
        refused = push(rp, params, auth=auth)
        assert refused.status_code == 401, refused.text
        assert refused.json()["error"] == "invalid_client"
    refused_as_at_the_token_endpoint(platform, params)
    refused_as_at_the_token_endpoint(platform, {**params, "client_secret": "wrong"})

    public = make_agency(platform, public=True)
    public_params, _ = request_params(public)
    assert push(public, public_params).status_code == 201  # "none", with its client_id


def test_par_takes_private_key_jwt_with_the_par_or_token_endpoint_as_audience(
    platform: Platform,
) -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    public = ECAlgorithm.to_jwk(private.public_key(), as_dict=True)
    public.update({"kid": "k1", "alg": "ES256", "use": "sig"})
    rp = make_agency(platform, jwks={"keys": [public]})
    params, _ = request_params(rp)

    def assertion(audience: str) -> str:
        now = int(time.time())
        claims = {
            "iss": rp.client_id,
            "sub": rp.client_id,
            "aud": audience,
            "iat": now,
            "exp": now + 60,
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(claims, private, algorithm="ES256", headers={"kid": "k1"})

    for audience in (ISSUER + "/par", ISSUER + "/oauth2/token", ISSUER):
        form = {**params, "client_assertion_type": ASSERTION_TYPE}
        response = push(rp, params, data={**form, "client_assertion": assertion(audience)})
        assert response.status_code == 201, (audience, response.text)
    replayed = assertion(ISSUER + "/par")
    form = {**params, "client_assertion_type": ASSERTION_TYPE, "client_assertion": replayed}
    assert push(rp, params, data=form).status_code == 201
    again = push(rp, params, data=form)  # a replayed assertion
    # Credentials in the body, not a header: 400, as at the token endpoint.
    assert (again.status_code, again.json()["error"]) == (400, "invalid_client")
    refused_as_at_the_token_endpoint(platform, {**params, "client_secret": "guess"})


def refused_as_at_the_token_endpoint(platform: Platform, form: dict[str, str]) -> None:
    refused = httpx.post(platform.identity.http_url + "/par", data=form)
    token = httpx.post(platform.token_url, data={**form, "grant_type": "authorization_code"})
    assert refused.json()["error"] == token.json()["error"] == "invalid_client"
    assert refused.status_code == token.status_code


@pytest.mark.parametrize(
    ("change", "error", "description"),
    [
        ({"request_uri": URN + "x"}, "invalid_request", "request_uri cannot be pushed"),
        (
            {"redirect_uri": "https://evil.example/cb"},
            "invalid_request",
            "redirect_uri is not registered for this client",
        ),
        ({"code_challenge_method": "plain"}, "invalid_request", "code_challenge_method"),
        ({"scope": "email"}, "invalid_scope", "the openid scope is required"),
        ({"response_type": "token"}, "unsupported_response_type", "authorization code"),
        ({"request": "eyJ.e30."}, "invalid_request_object", "request is not a valid signed JWT"),
        ({"dpop_jkt": "x" * 42}, "invalid_request", "dpop_jkt must be a JWK SHA-256 thumbprint"),
        ({"response_mode": "form_post"}, "invalid_request", "only response_mode=query"),
    ],
)
def test_a_push_the_authorization_endpoint_would_refuse_is_400_json(
    rp: RelyingParty, change: dict[str, str], error: str, description: str
) -> None:
    params, _ = request_params(rp, **change)
    response = push(rp, params)
    assert response.status_code == 400, response.text
    assert response.headers["cache-control"] == "no-store"
    assert response.json()["error"] == error
    assert description in response.json()["error_description"]


def test_par_takes_only_a_form_post(rp: RelyingParty) -> None:
    params, _ = request_params(rp)
    assert rp.client_secret
    as_json = httpx.post(rp.base + "/par", json=params, auth=(rp.client_id, rp.client_secret))
    assert as_json.status_code == 400
    assert as_json.json()["error"] == "invalid_request"
    assert httpx.get(rp.base + "/par").status_code == 405


def test_an_agency_that_requires_par_is_refused_a_plain_request(
    platform: Platform, citizen: Citizen, citizen_browser: CitizenBrowser
) -> None:
    strict = make_agency(platform, require_pushed_authorization_requests=True)
    plain = strict.auth_request(scope="openid email")
    refused = citizen_browser.get(plain.url)
    assert refused.status_code == 303  # the redirect URI is registered: redirected
    back = callback_params(refused)
    assert back["error"] == "invalid_request"
    assert back["error_description"] == "pushed authorization request required"
    assert back["state"] == plain.state
    request_uri, request = pushed(strict)
    done = citizen_browser.sign_in(
        authorize_url(strict, request_uri=request_uri),
        citizen.email,
        citizen.password,
        citizen.totp_secret,
    )
    assert strict.redeem(callback_params(done)["code"], request.verifier).status_code == 200


def test_the_operator_api_sets_and_updates_the_requirement(platform: Platform) -> None:
    operator = caller(platform, OPERATOR_SCOPES)
    created = operator.stub.CreateAgency(
        identity_pb2.CreateAgencyRequest(
            name="Strict permits",
            scopes=["openid", "email"],
            redirect_uris=[CALLBACK],
            require_pushed_authorization_requests=True,
            idempotency_key=uuid.uuid4().hex,
        ),
        metadata=operator.metadata,
    ).agency
    assert created.require_pushed_authorization_requests
    assert platform.admin.registry.get(created.id).require_pushed_authorization_requests
    relaxed = operator.stub.UpdateAgency(
        identity_pb2.UpdateAgencyRequest(
            agency=identity_pb2.Agency(id=created.id),
            update_mask=FieldMask(paths=["require_pushed_authorization_requests"]),
            idempotency_key=uuid.uuid4().hex,
        ),
        metadata=operator.metadata,
    )
    assert not relaxed.require_pushed_authorization_requests
    assert not platform.admin.registry.get(created.id).require_pushed_authorization_requests


def test_a_second_replica_takes_what_the_first_was_pushed_once(
    platform: Platform, rp: RelyingParty
) -> None:
    replica = process.start(
        identity_bootstrap.build(platform.settings, platform.identity_settings, platform.clock)
    )
    try:
        request_uri, _ = pushed(rp)  # at the first replica
        other = CitizenBrowser(replica.http_url)
        taken = other.get(authorize_url(rp, request_uri=request_uri))
        assert taken.status_code == 303
        assert taken.headers["location"].startswith("/signin?auth=")
        again = CitizenBrowser(platform.identity.http_url)
        shown_error(
            again,
            authorize_url(rp, request_uri=request_uri),
            "request_uri is unknown or already used",
        )
        other.client.close()
        again.client.close()
    finally:
        replica.stop(grace=1)


@pytest.fixture(scope="module")
def strict_platform(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Platform]:
    with running_platform(
        database_url,
        tmp_path_factory.mktemp("strict"),
        require_pushed_authorization_requests=True,
    ) as running:
        yield running


def test_the_operator_setting_requires_par_of_every_agency(
    strict_platform: Platform, tmp_path: Path
) -> None:
    document = httpx.get(
        strict_platform.identity.http_url + "/.well-known/openid-configuration"
    ).json()
    assert document["require_pushed_authorization_requests"] is True
    rp = make_agency(strict_platform)
    citizen = make_citizen(strict_platform)
    browser = CitizenBrowser(strict_platform.identity.http_url)
    try:
        back = callback_params(browser.get(rp.auth_request().url))
        assert back["error"] == "invalid_request"
        assert back["error_description"] == "pushed authorization request required"
        request_uri, request = pushed(rp)
        done = browser.sign_in(
            authorize_url(rp, request_uri=request_uri),
            citizen.email,
            citizen.password,
            citizen.totp_secret,
        )
        tokens = rp.redeem(callback_params(done)["code"], request.verifier)
        assert tokens.status_code == 200, tokens.text
        assert json.loads(tokens.text)["token_type"] == "Bearer"
    finally:
        browser.client.close()
