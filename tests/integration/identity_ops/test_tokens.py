"""IntrospectToken, RevokeToken and GetUserInfo: an agency acts on its own tokens only."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import grpc
import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from gaap.identity.v1 import identity_pb2
from google.protobuf.message import Message

from tests.integration.identity_ops.support import (
    CITIZEN_SCOPES,
    Caller,
    caller,
    citizen,
    citizen_tokens,
    violations,
)
from tests.support.dpop_proofs import Prover
from tests.support.platform import ISSUER, TOKEN_ENDPOINT, Platform


@pytest.fixture(scope="module")
def agency_a(platform: Platform) -> Caller:
    return caller(platform, CITIZEN_SCOPES)


@pytest.fixture(scope="module")
def agency_b(platform: Platform) -> Caller:
    return caller(platform, CITIZEN_SCOPES)


def introspect(who: Caller, token: str, hint: str = "") -> identity_pb2.TokenInfo:
    return who.stub.IntrospectToken(
        identity_pb2.IntrospectTokenRequest(token=token, token_type_hint=hint),
        metadata=who.metadata,
    )


def revoke(who: Caller, token: str) -> None:
    who.stub.RevokeToken(identity_pb2.RevokeTokenRequest(token=token), metadata=who.metadata)


def test_introspects_its_own_citizen_access_and_refresh_tokens(
    platform: Platform, agency_a: Caller
) -> None:
    account = citizen(platform)
    tokens = citizen_tokens(platform, agency_a.agency.client_id, account.id)

    access = introspect(agency_a, tokens.access_token)
    assert access.active
    assert access.token_type == "Bearer"
    assert access.client_id == agency_a.agency.client_id
    assert access.iss == ISSUER
    assert list(access.aud) == [ISSUER + "/userinfo"]
    assert access.scope.split() == ["openid", "email", "profile", "offline_access"]
    assert access.sub
    assert access.sub != account.id
    assert access.acr == "Cl"
    assert list(access.amr) == ["pwd"]
    assert access.exp > access.iat > 0
    assert access.auth_time > 0
    assert access.jti
    assert access.sid

    assert tokens.refresh_token
    refresh = introspect(agency_a, tokens.refresh_token, "refresh_token")
    assert refresh.active
    assert refresh.token_type == "refresh_token"
    assert refresh.client_id == agency_a.agency.client_id
    assert refresh.exp > refresh.iat


def test_introspects_its_own_client_credentials_token(platform: Platform, agency_a: Caller) -> None:
    own = platform.token(agency_a.agency, scope="identity:tokens")
    info = introspect(agency_a, own)
    assert info.active
    assert info.sub == agency_a.agency.client_id
    assert info.gaap_mode == "test"
    assert list(info.aud) == ["urn:gaap:identity"]


def http_introspection(platform: Platform, who: Caller, token: str) -> dict[str, Any]:
    answer: dict[str, Any] = httpx.post(
        platform.identity.http_url + "/oauth2/introspect",
        data={"token": token},
        auth=(who.agency.client_id, who.agency.client_secret),
    ).json()
    return answer


def test_a_dpop_bound_token_shows_its_key_as_http_introspection_does(
    platform: Platform, agency_a: Caller
) -> None:
    key = Prover()
    bound = httpx.post(
        platform.token_url,
        data={"grant_type": "client_credentials", "scope": "identity:tokens"},
        auth=(agency_a.agency.client_id, agency_a.agency.client_secret),
        headers={"DPoP": key.proof("POST", TOKEN_ENDPOINT)},
    ).json()["access_token"]
    info = introspect(agency_a, bound)
    assert (info.active, info.token_type, info.cnf.jkt) == (True, "DPoP", key.jkt)
    assert not info.HasField("act")
    http = http_introspection(platform, agency_a, bound)
    assert (http["token_type"], http["cnf"]) == (info.token_type, {"jkt": info.cnf.jkt})

    bearer = introspect(agency_a, platform.token(agency_a.agency, scope="identity:tokens"))
    assert (bearer.active, bearer.token_type) == (True, "Bearer")
    assert not bearer.HasField("cnf")


def test_a_token_from_token_exchange_names_its_actor_as_http_introspection_does(
    platform: Platform,
) -> None:
    subject = caller(platform, ("identity:tokens", "payments:read"))
    console = platform.secret_agency(scopes=["identity:act_for_agencies"])
    key = Prover()
    exchanged = httpx.post(
        platform.token_url,
        data={
            "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
            "subject_token": subject.agency.client_id,
            "subject_token_type": "urn:gaap:params:oauth:token-type:agency",
            "scope": "payments:read",
        },
        auth=(console.client_id, console.client_secret),
        headers={"DPoP": key.proof("POST", TOKEN_ENDPOINT)},
    )
    assert exchanged.status_code == 200, exchanged.text
    token = exchanged.json()["access_token"]
    info = introspect(subject, token)
    assert (info.active, info.client_id, info.act.sub) == (
        True,
        subject.agency.client_id,
        console.client_id,
    )
    assert info.cnf.jkt == key.jkt
    http = http_introspection(platform, subject, token)
    assert (http["act"], http["cnf"]) == ({"sub": info.act.sub}, {"jkt": info.cnf.jkt})


def test_another_agencys_tokens_are_inactive_and_cannot_be_revoked(
    platform: Platform, agency_a: Caller, agency_b: Caller
) -> None:
    account = citizen(platform)
    theirs = citizen_tokens(platform, agency_b.agency.client_id, account.id)
    assert theirs.refresh_token
    for token in (theirs.access_token, theirs.refresh_token, platform.token(agency_b.agency)):
        assert introspect(agency_a, token) == identity_pb2.TokenInfo(active=False)

    revoke(agency_a, theirs.access_token)  # succeeds, as RFC 7009 says, and does nothing
    revoke(agency_a, theirs.refresh_token)
    assert introspect(agency_b, theirs.access_token).active
    assert introspect(agency_b, theirs.refresh_token).active

    with pytest.raises(grpc.RpcError) as caught:
        agency_a.stub.GetUserInfo(
            identity_pb2.GetUserInfoRequest(access_token=theirs.access_token),
            metadata=agency_a.metadata,
        )
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


def test_forged_expired_and_garbage_tokens_are_inactive(
    platform: Platform, agency_a: Caller
) -> None:
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "sub": agency_a.agency.client_id,
        "client_id": agency_a.agency.client_id,
        "aud": ["urn:gaap:identity"],
        "iat": now,
        "exp": now + 300,
        "jti": "forged",
        "scope": "identity:tokens",
        "gaap_mode": "test",
    }
    signer = platform.admin.keys.signer()
    header = {"kid": signer.kid, "typ": "at+jwt"}
    forged = jwt.encode(claims, ec.generate_private_key(ec.SECP256R1()), "ES256", headers=header)
    expired = jwt.encode(
        {**claims, "iat": now - 900, "exp": now - 600}, signer.private_key, "ES256", headers=header
    )
    genuine = jwt.encode(claims, signer.private_key, "ES256", headers=header)
    assert introspect(agency_a, genuine).active  # the control: only the defect differs
    for token in (forged, expired, "not-a-token", "rt_unknown"):
        assert not introspect(agency_a, token).active


def test_revoking_an_access_token_and_a_refresh_family(
    platform: Platform, agency_a: Caller
) -> None:
    account = citizen(platform)
    first = citizen_tokens(platform, agency_a.agency.client_id, account.id)
    revoke(agency_a, first.access_token)
    assert not introspect(agency_a, first.access_token).active

    second = citizen_tokens(platform, agency_a.agency.client_id, account.id)
    assert second.refresh_token
    rotated = platform.admin.citizen_tokens.refresh(
        platform.admin.registry.get(agency_a.agency.client_id), second.refresh_token, None
    )
    assert rotated.refresh_token
    revoke(agency_a, rotated.refresh_token)
    assert not introspect(agency_a, rotated.refresh_token).active
    assert not introspect(agency_a, rotated.access_token).active  # the family went with it

    revoke(agency_a, "rt_never-issued")  # unknown tokens are not an error (RFC 7009)


def test_user_info_returns_the_consented_claims(platform: Platform, agency_a: Caller) -> None:
    account = citizen(platform, given_name="Ada", family_name="Lovelace")
    tokens = citizen_tokens(
        platform, agency_a.agency.client_id, account.id, scopes=("openid", "email")
    )
    info = agency_a.stub.GetUserInfo(
        identity_pb2.GetUserInfoRequest(access_token=tokens.access_token),
        metadata=agency_a.metadata,
    )
    claims = dict(info.claims)
    assert claims["email"] == account.email
    assert claims["email_verified"] is True
    assert claims["sub"] == introspect(agency_a, tokens.access_token).sub
    assert "given_name" not in claims  # profile was not granted

    revoke(agency_a, tokens.access_token)
    with pytest.raises(grpc.RpcError) as caught:
        agency_a.stub.GetUserInfo(
            identity_pb2.GetUserInfoRequest(access_token=tokens.access_token),
            metadata=agency_a.metadata,
        )
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


def test_user_info_needs_the_openid_scope(platform: Platform, agency_a: Caller) -> None:
    account = citizen(platform)
    tokens = citizen_tokens(platform, agency_a.agency.client_id, account.id, scopes=("email",))
    with pytest.raises(grpc.RpcError) as caught:
        agency_a.stub.GetUserInfo(
            identity_pb2.GetUserInfoRequest(access_token=tokens.access_token),
            metadata=agency_a.metadata,
        )
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "openid" in (caught.value.details() or "")


def test_bad_input_is_invalid_argument_with_field_violations(agency_a: Caller) -> None:
    calls: list[tuple[Callable[..., Any], Message, set[str]]] = [
        (agency_a.stub.IntrospectToken, identity_pb2.IntrospectTokenRequest(), {"token"}),
        (
            agency_a.stub.RevokeToken,
            identity_pb2.RevokeTokenRequest(token="x", token_type_hint="id_token"),
            {"token_type_hint"},
        ),
        (
            agency_a.stub.IntrospectToken,
            identity_pb2.IntrospectTokenRequest(token="x" * 9000),
            {"token"},
        ),
        (agency_a.stub.GetUserInfo, identity_pb2.GetUserInfoRequest(), {"access_token"}),
    ]
    for method, request, fields in calls:
        with pytest.raises(grpc.RpcError) as caught:
            method(request, metadata=agency_a.metadata)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert set(violations(caught.value)) == fields


def test_token_methods_need_the_identity_tokens_scope(platform: Platform) -> None:
    operator = caller(platform, ["identity:agencies"])
    calls: list[tuple[Callable[..., Any], Message]] = [
        (operator.stub.IntrospectToken, identity_pb2.IntrospectTokenRequest(token="x")),
        (operator.stub.RevokeToken, identity_pb2.RevokeTokenRequest(token="x")),
        (operator.stub.GetUserInfo, identity_pb2.GetUserInfoRequest(access_token="x")),
    ]
    for method, request in calls:
        with pytest.raises(grpc.RpcError) as caught:
            method(request, metadata=operator.metadata)
        assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert "identity:tokens" in (caught.value.details() or "")
