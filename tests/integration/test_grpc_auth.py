"""Every service's gRPC server accepts identity's tokens and refuses everything else."""

from __future__ import annotations

import base64
import json
import logging
import time
import uuid
from typing import Any

import grpc
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from gaap.common.v1 import caller_pb2, caller_pb2_grpc
from gaap.identity.v1 import identity_pb2, identity_pb2_grpc
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from grpc_status import rpc_status

from tests.support.platform import ISSUER, Platform, bearer

SERVICES = ("identity", "payments", "notify")


def call_caller(platform: Platform, service: str, token: str | None, **kw: Any) -> Any:
    stub = caller_pb2_grpc.CallerServiceStub(platform.channel(service))
    metadata = (bearer(token) if token is not None else ()) + tuple(kw.pop("metadata", ()))
    return stub.GetCallerIdentity.with_call(
        caller_pb2.GetCallerIdentityRequest(), metadata=metadata, timeout=10
    )


def forge(platform: Platform, *, header: dict[str, Any] | None = None, **claims: Any) -> str:
    """A token signed with identity's real key but with the claims a test wants."""
    signer = platform.admin.keys.signer()
    now = int(time.time())
    body: dict[str, Any] = {
        "iss": ISSUER,
        "sub": "ag_forged",
        "client_id": "ag_forged",
        "aud": ["urn:gaap:identity", "urn:gaap:payments", "urn:gaap:notify"],
        "iat": now,
        "exp": now + 300,
        "jti": uuid.uuid4().hex,
        "scope": "payments:read notify:send",
        "gaap_mode": "test",
    }
    body.update(claims)
    body = {k: v for k, v in body.items() if v is not None}
    headers = {"kid": signer.kid, "typ": "at+jwt", **(header or {})}
    return jwt.encode(body, signer.private_key, algorithm="ES256", headers=headers)


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def refused(platform: Platform, service: str, token: str | None) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        call_caller(platform, service, token)
    error: grpc.RpcError = caught.value
    return error


@pytest.mark.parametrize("service", SERVICES)
def test_a_valid_token_is_accepted_and_the_agency_is_on_the_context(
    platform: Platform, service: str
) -> None:
    agency = platform.secret_agency(
        scopes=["payments:read", "notify:send", "identity:agencies"], mode="live"
    )
    token = platform.token(agency)
    reply, _ = call_caller(platform, service, token)
    assert reply.client_id == agency.client_id
    assert reply.mode == caller_pb2.MODE_LIVE
    assert list(reply.scopes) == ["payments:read", "notify:send", "identity:agencies"]
    assert reply.service == service
    assert reply.token_expires_at.seconds > time.time()


def _none_token(platform: Platform) -> str:
    claims = jwt.decode(forge(platform), options={"verify_signature": False})
    return f"{_b64({'alg': 'none', 'typ': 'at+jwt'})}.{_b64(claims)}."


def _hs256_with_public_key(platform: Platform) -> str:
    # The classic key-confusion attack: HMAC keyed with the published public key.
    public_pem = (
        platform.admin.keys.signer()
        .private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    signer = platform.admin.keys.signer()
    header = _b64({"alg": "HS256", "typ": "at+jwt", "kid": signer.kid})
    claims = _b64(jwt.decode(forge(platform), options={"verify_signature": False}))
    import hashlib
    import hmac

    signature = hmac.new(public_pem, f"{header}.{claims}".encode(), hashlib.sha256).digest()
    return f"{header}.{claims}.{base64.urlsafe_b64encode(signature).decode().rstrip('=')}"


def _unknown_key(platform: Platform) -> str:
    stranger = ec.generate_private_key(ec.SECP256R1())
    claims = jwt.decode(forge(platform), options={"verify_signature": False})
    return jwt.encode(
        claims, stranger, algorithm="ES256", headers={"kid": "not-a-kid", "typ": "at+jwt"}
    )


def _resigned_by_stranger(platform: Platform) -> str:
    stranger = ec.generate_private_key(ec.SECP256R1())
    kid = platform.admin.keys.signer().kid
    claims = jwt.decode(forge(platform), options={"verify_signature": False})
    return jwt.encode(claims, stranger, algorithm="ES256", headers={"kid": kid, "typ": "at+jwt"})


def _tampered(platform: Platform) -> str:
    header, _, signature = forge(platform).split(".")
    claims = jwt.decode(forge(platform), options={"verify_signature": False})
    claims["scope"] = "payments:refund payments:create"
    return f"{header}.{_b64(claims)}.{signature}"


BAD_TOKENS: dict[str, tuple[Any, str]] = {
    "missing": (lambda p: None, "missing access token"),
    "malformed": (lambda p: "not-a-jwt", "malformed"),
    "expired": (
        lambda p: forge(p, iat=int(time.time()) - 900, exp=int(time.time()) - 600),
        "expired",
    ),
    "alg none": (_none_token, "algorithm 'none' is not accepted"),
    "HS256 with the public key": (_hs256_with_public_key, "algorithm 'HS256' is not accepted"),
    "unknown key": (_unknown_key, "unknown key"),
    "known kid, other key": (_resigned_by_stranger, "signature"),
    "tampered claims": (_tampered, "signature"),
    "wrong audience": (lambda p: forge(p, aud=["urn:gaap:elsewhere"]), "not for this service"),
    "wrong issuer": (lambda p: forge(p, iss="https://evil.example"), "wrong issuer"),
    "no expiry": (lambda p: forge(p, exp=None), "'exp'"),
    "jku header": (lambda p: forge(p, header={"jku": "https://evil.example/jwks"}), "jku"),
    "embedded jwk header": (lambda p: forge(p, header={"jwk": {"kty": "EC"}}), "jwk"),
    "id token typ": (lambda p: forge(p, header={"typ": "JWT"}), "typ"),
}


@pytest.mark.parametrize("service", SERVICES)
@pytest.mark.parametrize("case", BAD_TOKENS)
def test_bad_tokens_are_unauthenticated_with_a_reason(
    platform: Platform, service: str, case: str, caplog: pytest.LogCaptureFixture
) -> None:
    make, reason = BAD_TOKENS[case]
    token = make(platform)
    with caplog.at_level(logging.DEBUG):
        error = refused(platform, service, token)
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED, error.details()
    assert reason in (error.details() or ""), error.details()
    if token:
        assert token not in (error.details() or "")
        for record in caplog.records:
            assert token not in record.getMessage()
            assert token not in json.dumps(record.__dict__, default=str)


@pytest.mark.parametrize("service", SERVICES)
def test_errors_carry_the_callers_request_id(platform: Platform, service: str) -> None:
    stub = caller_pb2_grpc.CallerServiceStub(platform.channel(service))
    with pytest.raises(grpc.RpcError) as caught:
        stub.GetCallerIdentity(
            caller_pb2.GetCallerIdentityRequest(), metadata=(("x-request-id", "req-123"),)
        )
    trailers: dict[str, str | bytes] = {m.key: m.value for m in caught.value.trailing_metadata()}
    assert trailers["x-request-id"] == "req-123"
    with pytest.raises(grpc.RpcError) as caught:
        stub.GetCallerIdentity(caller_pb2.GetCallerIdentityRequest())
    made_up = {m.key: m.value for m in caught.value.trailing_metadata()}
    assert len(made_up["x-request-id"]) == 32


@pytest.mark.parametrize("service", SERVICES)
def test_non_bearer_authorization_is_unauthenticated(platform: Platform, service: str) -> None:
    stub = caller_pb2_grpc.CallerServiceStub(platform.channel(service))
    with pytest.raises(grpc.RpcError) as caught:
        stub.GetCallerIdentity(
            caller_pb2.GetCallerIdentityRequest(), metadata=(("authorization", "Basic dXNlcg=="),)
        )
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_a_token_for_other_services_only_is_refused_by_this_one(platform: Platform) -> None:
    agency = platform.secret_agency(scopes=["notify:send"])
    token = platform.token(agency)
    assert call_caller(platform, "notify", token)[0].client_id == agency.client_id
    error = refused(platform, "payments", token)
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "urn:gaap:payments" in (error.details() or "")


def test_missing_scope_is_permission_denied(platform: Platform) -> None:
    stub = identity_pb2_grpc.IdentityServiceStub(platform.channel("identity"))
    without = platform.token(platform.secret_agency(scopes=["identity:agencies"]), scope=None)
    agency = platform.secret_agency(scopes=["payments:read", "identity:agencies"])
    narrow = platform.token(agency, scope="payments:read")
    jwks_only = forge(platform, scope="notify:send")
    # Signed by identity for identity's audience, but without the method's scope.
    with pytest.raises(grpc.RpcError) as caught:
        stub.ListAgencies(identity_pb2.ListAgenciesRequest(), metadata=bearer(jwks_only))
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "identity:agencies" in (caught.value.details() or "")
    # A real token narrowed to payments is not addressed to identity at all.
    with pytest.raises(grpc.RpcError) as caught:
        stub.ListAgencies(identity_pb2.ListAgenciesRequest(), metadata=bearer(narrow))
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "scope of this service" in (caught.value.details() or "")
    listed = stub.ListAgencies(
        identity_pb2.ListAgenciesRequest(page_size=500),
        metadata=bearer(without),
    )
    assert agency.client_id in {a.id for a in listed.agencies}


def test_invalid_argument_carries_field_violations(platform: Platform) -> None:
    stub = identity_pb2_grpc.IdentityServiceStub(platform.channel("identity"))
    token = platform.token(platform.secret_agency(scopes=["identity:agencies"]))
    with pytest.raises(grpc.RpcError) as caught:
        stub.ListAgencies(
            identity_pb2.ListAgenciesRequest(page_size=501, page_token="garbage!"),
            metadata=bearer(token),
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    status = rpc_status.from_call(caught.value)  # type: ignore[arg-type]
    assert status is not None
    bad = error_details_pb2.BadRequest()
    assert status.details[0].Unpack(bad)
    assert [v.field for v in bad.field_violations] == ["page_size"]


def test_get_agency_and_pagination(platform: Platform) -> None:
    stub = identity_pb2_grpc.IdentityServiceStub(platform.channel("identity"))
    token = platform.token(platform.secret_agency(scopes=["identity:agencies"]))
    auth = bearer(token)
    created = [platform.secret_agency() for _ in range(3)]
    seen: list[str] = []
    page_token = ""
    while True:
        page = stub.ListAgencies(
            identity_pb2.ListAgenciesRequest(page_size=2, page_token=page_token), metadata=auth
        )
        seen += [a.id for a in page.agencies]
        page_token = page.next_page_token
        if not page_token:
            break
    assert len(seen) == len(set(seen))
    assert {a.client_id for a in created} <= set(seen)
    one = stub.GetAgency(
        identity_pb2.GetAgencyRequest(agency_id=created[0].client_id), metadata=auth
    )
    assert one.id == created[0].client_id
    assert not one.disabled
    with pytest.raises(grpc.RpcError) as caught:
        stub.GetAgency(identity_pb2.GetAgencyRequest(agency_id="ag_nope"), metadata=auth)
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


def test_get_jwks_over_grpc_matches_http(platform: Platform) -> None:
    stub = identity_pb2_grpc.IdentityServiceStub(platform.channel("identity"))
    token = platform.token(platform.secret_agency(scopes=["notify:send"]))
    # A token without an identity scope is not addressed to identity.
    with pytest.raises(grpc.RpcError) as caught:
        stub.GetJwks(identity_pb2.GetJwksRequest(), metadata=bearer(token))
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    token = platform.token(platform.secret_agency(scopes=["identity:agencies"]))
    reply = stub.GetJwks(identity_pb2.GetJwksRequest(), metadata=bearer(token))
    assert json.loads(reply.json) == platform.admin.keys.jwks()


@pytest.mark.parametrize("service", SERVICES)
def test_health_and_reflection_need_no_token(platform: Platform, service: str) -> None:
    health = health_pb2_grpc.HealthStub(platform.channel(service))
    assert (
        health.Check(health_pb2.HealthCheckRequest()).status
        == health_pb2.HealthCheckResponse.SERVING
    )
    named = health.Check(health_pb2.HealthCheckRequest(service="gaap.common.v1.CallerService"))
    assert named.status == health_pb2.HealthCheckResponse.SERVING
    reflection = reflection_pb2_grpc.ServerReflectionStub(platform.channel(service))
    replies = reflection.ServerReflectionInfo(
        iter([reflection_pb2.ServerReflectionRequest(list_services="")])
    )
    names = {s.name for reply in replies for s in reply.list_services_response.service}
    assert {"gaap.common.v1.CallerService", "grpc.health.v1.Health"} <= names
    if service == "identity":
        assert "gaap.identity.v1.IdentityService" in names


def test_unknown_method_is_unimplemented(platform: Platform) -> None:
    call = platform.channel("payments").unary_unary(
        "/gaap.payments.v1.PaymentsService/Nope",
        request_serializer=lambda b: b,
        response_deserializer=lambda b: b,
    )
    with pytest.raises(grpc.RpcError) as caught:
        call(b"")
    assert caught.value.code() == grpc.StatusCode.UNIMPLEMENTED
