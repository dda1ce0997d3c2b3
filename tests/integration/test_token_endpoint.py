"""identity's token endpoint: client_credentials with every client authentication."""

from __future__ import annotations

import base64
import json
import time
import uuid
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import RSAAlgorithm, RSAPSSAlgorithm

from tests.support.platform import ISSUER, TOKEN_ENDPOINT, KeyAgency, Platform, jwks_of

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def post(platform: Platform, data: dict[str, str], **kwargs: Any) -> httpx.Response:
    return httpx.post(platform.token_url, data=data, **kwargs)


def claims_of(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    decoded: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return decoded


def test_client_secret_basic_issues_a_verifiable_rfc9068_token(platform: Platform) -> None:
    agency = platform.secret_agency(scopes=["payments:read", "notify:send"])
    response = post(
        platform,
        {"grant_type": "client_credentials"},
        auth=(agency.client_id, agency.client_secret),
    )
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["pragma"] == "no-cache"
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["scope"] == "payments:read notify:send"
    assert 0 < body["expires_in"] <= 300
    token = body["access_token"]
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "ES256"
    assert header["typ"] == "at+jwt"
    keys = {k["kid"]: k for k in jwks_of(platform)["keys"]}
    key = jwt.PyJWK(keys[header["kid"]])
    claims = jwt.decode(
        token, key, algorithms=["ES256"], audience="urn:gaap:payments", issuer=ISSUER
    )
    assert claims["sub"] == claims["client_id"] == agency.client_id
    assert sorted(claims["aud"]) == ["urn:gaap:notify", "urn:gaap:payments"]
    assert claims["gaap_mode"] == "test"
    assert claims["exp"] - claims["iat"] == body["expires_in"]
    assert claims["jti"]


def test_client_secret_post_and_narrower_scope(platform: Platform) -> None:
    agency = platform.secret_agency(scopes=["payments:read", "notify:send"])
    response = post(
        platform,
        {
            "grant_type": "client_credentials",
            "client_id": agency.client_id,
            "client_secret": agency.client_secret,
            "scope": "notify:send",
        },
    )
    assert response.status_code == 200, response.text
    claims = claims_of(response.json()["access_token"])
    assert claims["scope"] == "notify:send"
    assert claims["aud"] == ["urn:gaap:notify"]


def test_scope_beyond_registration_is_invalid_scope(platform: Platform) -> None:
    agency = platform.secret_agency(scopes=["notify:send"])
    response = post(
        platform,
        {"grant_type": "client_credentials", "scope": "payments:refund"},
        auth=(agency.client_id, agency.client_secret),
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"


@pytest.mark.parametrize("wrong", ["secret", "client"])
def test_wrong_secret_or_unknown_client_is_invalid_client(platform: Platform, wrong: str) -> None:
    agency = platform.secret_agency()
    client_id = agency.client_id if wrong == "secret" else "ag_doesnotexist"
    secret = agency.client_secret + "x" if wrong == "secret" else agency.client_secret
    response = post(platform, {"grant_type": "client_credentials"}, auth=(client_id, secret))
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert response.headers["cache-control"] == "no-store"


@pytest.mark.parametrize(
    ("alg", "make_key", "to_jwk"),
    [
        ("ES256", lambda: ec.generate_private_key(ec.SECP256R1()), None),
        (
            "PS256",
            lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048),
            RSAPSSAlgorithm,
        ),
        (
            "RS256",
            lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048),
            RSAAlgorithm,
        ),
    ],
)
def test_private_key_jwt_with_each_algorithm(
    platform: Platform, alg: str, make_key: Any, to_jwk: Any
) -> None:
    agency = _key_agency(platform, alg, make_key(), to_jwk)
    for audience in (TOKEN_ENDPOINT, ISSUER):  # either is accepted
        response = post(platform, _assertion_form(agency.assertion(audience=audience)))
        assert response.status_code == 200, response.text
        assert claims_of(response.json()["access_token"])["client_id"] == agency.client_id


def _key_agency(platform: Platform, alg: str, private: Any, to_jwk: Any) -> KeyAgency:
    from jwt.algorithms import ECAlgorithm

    kid = uuid.uuid4().hex[:8]
    public = (to_jwk or ECAlgorithm).to_jwk(private.public_key(), as_dict=True)
    public.update({"kid": kid, "alg": alg})
    created = platform.admin.registry.create(
        name="Keyed", scopes=["payments:read"], jwks={"keys": [public]}
    )
    return KeyAgency(created.agency.client_id, private, kid, alg)


def _assertion_form(assertion: str) -> dict[str, str]:
    return {
        "grant_type": "client_credentials",
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": assertion,
    }


def test_reused_jti_is_invalid_client(platform: Platform) -> None:
    agency = platform.key_agency()
    assertion = agency.assertion()
    assert post(platform, _assertion_form(assertion)).status_code == 200
    replay = post(platform, _assertion_form(assertion))
    assert replay.status_code == 400  # credentials in the body, not a header: 400, not 401
    assert replay.json()["error"] == "invalid_client"


@pytest.mark.parametrize(
    ("case", "overrides"),
    [
        ("wrong audience", {"aud": "https://elsewhere.example/token"}),
        ("expired", {"iat": int(time.time()) - 600, "exp": int(time.time()) - 300}),
        ("lifetime over five minutes", {"exp": int(time.time()) + 3600}),
        ("no jti", {"jti": None}),
        ("no exp", {"exp": None}),
        ("iss differs from sub", {"iss": "ag_someoneelse"}),
    ],
)
def test_bad_assertions_are_invalid_client(
    platform: Platform, case: str, overrides: dict[str, Any]
) -> None:
    agency = platform.key_agency()
    response = post(platform, _assertion_form(agency.assertion(**overrides)))
    assert response.status_code == 400, case  # credentials in the body: 400, as a replay
    assert response.json()["error"] == "invalid_client", case


def test_assertion_signed_by_another_key_is_invalid_client(platform: Platform) -> None:
    agency = platform.key_agency()
    impostor = KeyAgency(agency.client_id, ec.generate_private_key(ec.SECP256R1()), agency.kid)
    response = post(platform, _assertion_form(impostor.assertion()))
    assert response.json()["error"] == "invalid_client"


def test_assertion_with_alg_none_or_hs256_is_invalid_client(platform: Platform) -> None:
    agency = platform.key_agency()
    now = int(time.time())
    claims = {
        "iss": agency.client_id,
        "sub": agency.client_id,
        "aud": TOKEN_ENDPOINT,
        "iat": now,
        "exp": now + 60,
    }
    unsigned = jwt.encode({**claims, "jti": "a"}, "", algorithm="none")
    hmac = jwt.encode(
        {**claims, "jti": "b"}, "shared-secret-guess-32-bytes-long!", algorithm="HS256"
    )
    for assertion in (unsigned, hmac):
        response = post(platform, _assertion_form(assertion))
        assert response.json()["error"] == "invalid_client"


def test_disabled_agency_gets_no_new_token(platform: Platform) -> None:
    agency = platform.secret_agency()
    platform.token(agency)
    platform.admin.registry.disable(agency.client_id)
    response = post(
        platform,
        {"grant_type": "client_credentials"},
        auth=(agency.client_id, agency.client_secret),
    )
    assert response.json()["error"] == "invalid_client"


@pytest.mark.parametrize(
    ("data", "headers", "error"),
    [
        (
            {"grant_type": "password", "username": "u", "password": "p"},
            {},
            "unsupported_grant_type",
        ),
        ({"grant_type": "authorization_code", "code": "x"}, {}, "unauthorized_client"),
        (
            {"grant_type": "urn:ietf:params:oauth:grant-type:device_code"},
            {},
            "unsupported_grant_type",
        ),
        ({}, {}, "invalid_request"),
    ],
)
def test_other_grants_are_refused(
    platform: Platform, data: dict[str, str], headers: dict[str, str], error: str
) -> None:
    agency = platform.secret_agency()
    response = post(platform, data, auth=(agency.client_id, agency.client_secret), headers=headers)
    assert response.status_code == 400
    assert response.json()["error"] == error


def test_repeated_parameters_and_wrong_content_type_are_invalid_request(platform: Platform) -> None:
    agency = platform.secret_agency()
    repeated = httpx.post(
        platform.token_url,
        content="grant_type=client_credentials&grant_type=client_credentials",
        headers={"content-type": "application/x-www-form-urlencoded"},
        auth=(agency.client_id, agency.client_secret),
    )
    assert repeated.status_code == 400
    assert repeated.json()["error"] == "invalid_request"
    as_json = httpx.post(
        platform.token_url,
        json={"grant_type": "client_credentials"},
        auth=(agency.client_id, agency.client_secret),
    )
    assert as_json.status_code == 400
    assert as_json.json()["error"] == "invalid_request"


def test_token_endpoint_only_accepts_post(platform: Platform) -> None:
    assert httpx.get(platform.token_url).status_code == 405


def test_discovery_is_truthful(platform: Platform) -> None:
    for path in ("/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"):
        meta = httpx.get(platform.identity.http_url + path).json()
        assert meta["issuer"] == ISSUER
        assert meta["token_endpoint"] == TOKEN_ENDPOINT
        assert meta["jwks_uri"] == ISSUER + "/.well-known/jwks.json"
        assert set(meta["grant_types_supported"]) == {
            "authorization_code",
            "refresh_token",
            "client_credentials",
            "urn:ietf:params:oauth:grant-type:token-exchange",
        }
        assert set(meta["token_endpoint_auth_methods_supported"]) == {
            "client_secret_basic",
            "client_secret_post",
            "private_key_jwt",
            "none",
        }


def test_jwks_publishes_public_keys_only(platform: Platform) -> None:
    response = httpx.get(platform.identity.http_url + "/.well-known/jwks.json")
    assert response.status_code == 200
    keys = response.json()["keys"]
    assert keys
    for key in keys:
        assert key["kid"]
        assert key["alg"] in ("ES256", "RS256")  # one per advertised ID-token algorithm
        assert key["use"] == "sig"
        assert not {"d", "p", "q", "dp", "dq", "qi"} & set(key)
    assert response.headers["x-frame-options"] == "DENY"


def test_expired_assertion_ids_are_purged_and_live_ones_kept(platform: Platform) -> None:
    from datetime import timedelta

    from services.identity.adapters.repositories import SqlAssertionLedger
    from services.runtime.db import transaction
    from services.runtime.db_types import utcnow

    stale, live = uuid.uuid4().hex, uuid.uuid4().hex
    with transaction(platform.admin.database.sessions) as session:
        ledger = SqlAssertionLedger(session)
        assert ledger.first_use("ag_x", stale, utcnow() - timedelta(minutes=1))
        assert ledger.first_use("ag_x", live, utcnow() + timedelta(minutes=5))
    assert platform.admin.purge_used_assertions() >= 1
    with transaction(platform.admin.database.sessions) as session:
        ledger = SqlAssertionLedger(session)
        assert not ledger.first_use("ag_x", live, utcnow() + timedelta(minutes=5))
        assert ledger.first_use("ag_x", stale, utcnow() + timedelta(minutes=5))
