"""DPoP (RFC 9449) end to end: identity binds an agency's token to its key, and
payments and notify accept that token only with a fresh proof by that key, over
gRPC and over JSON. On SQLite and PostgreSQL (the ``platform`` fixture)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import grpc
import httpx
import jwt
import pytest
from gaap.common.v1 import caller_pb2, caller_pb2_grpc
from gaap.payments.v1 import payments_pb2 as pb
from gaap.payments.v1 import payments_pb2_grpc as pb_grpc

from gaap_client.dpop import DpopKey
from services.payments import bootstrap as payments_bootstrap
from services.payments.settings import PaymentsSettings
from services.runtime import process
from services.runtime.dpop import access_token_hash
from tests.support.platform import (
    TOKEN_ENDPOINT,
    Platform,
    SecretAgency,
    bearer,
    server_settings,
)

PAYMENTS_URL = "http://127.0.0.1:8082"  # payments' public_url (its default)
NOTIFY_URL = "http://127.0.0.1:8083"
CREATE = "/gaap.payments.v1.PaymentsService/CreatePayment"
GET = "/gaap.payments.v1.PaymentsService/GetPayment"
CALLER = "/gaap.common.v1.CallerService/GetCallerIdentity"


def dpop_token(platform: Platform, agency: SecretAgency, key: DpopKey) -> dict[str, Any]:
    response = httpx.post(
        platform.token_url,
        data={"grant_type": "client_credentials"},
        auth=(agency.client_id, agency.client_secret),
        headers={"DPoP": key.proof("POST", TOKEN_ENDPOINT)},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def bound(token: str, proof: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"DPoP {token}"), ("dpop", proof))


def create_request() -> pb.CreatePaymentRequest:
    return pb.CreatePaymentRequest(
        amount=1050,
        reference="REF-1",
        description="Passport fee",
        return_url="https://agency.example/done",
        idempotency_key=uuid.uuid4().hex,
    )


@pytest.fixture
def agency(platform: Platform) -> SecretAgency:
    return platform.secret_agency()


@pytest.fixture
def key() -> DpopKey:
    return DpopKey.generate()


@pytest.fixture
def token(platform: Platform, agency: SecretAgency, key: DpopKey) -> str:
    return str(dpop_token(platform, agency, key)["access_token"])


def payments(platform: Platform) -> pb_grpc.PaymentsServiceStub:
    return pb_grpc.PaymentsServiceStub(platform.channel("payments"))


def refusal(call: Any) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        call()
    error: grpc.RpcError = caught.value
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    return error


def test_the_token_endpoint_binds_the_token_to_the_proofs_key(
    platform: Platform, agency: SecretAgency, key: DpopKey
) -> None:
    body = dpop_token(platform, agency, key)
    assert body["token_type"] == "DPoP"
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["cnf"] == {"jkt": key.thumbprint}
    discovery = httpx.get(platform.identity.http_url + "/.well-known/openid-configuration")
    assert discovery.json()["dpop_signing_alg_values_supported"] == ["ES256", "PS256"]


def test_without_a_proof_the_token_is_a_bearer_token_as_before(
    platform: Platform, agency: SecretAgency
) -> None:
    token = platform.token(agency)
    assert "cnf" not in jwt.decode(token, options={"verify_signature": False})
    created = payments(platform).CreatePayment(create_request(), metadata=bearer(token))
    assert created.amount == 1050


@pytest.mark.parametrize(
    ("proof_for", "message"),
    [
        (lambda key: key.proof("GET", TOKEN_ENDPOINT), "'htm'"),
        (lambda key: key.proof("POST", "https://elsewhere.test/oauth2/token"), "'htu'"),
        (lambda key: "not-a-proof", "JWT"),
    ],
)
def test_an_invalid_proof_at_the_token_endpoint_is_invalid_dpop_proof(
    platform: Platform, agency: SecretAgency, key: DpopKey, proof_for: Any, message: str
) -> None:
    response = httpx.post(
        platform.token_url,
        data={"grant_type": "client_credentials"},
        auth=(agency.client_id, agency.client_secret),
        headers={"DPoP": proof_for(key)},
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_dpop_proof"
    assert message in response.json()["error_description"]
    assert response.headers["cache-control"] == "no-store"


def test_a_proof_replayed_at_the_token_endpoint_is_refused(
    platform: Platform, agency: SecretAgency, key: DpopKey
) -> None:
    proof = key.proof("POST", TOKEN_ENDPOINT)
    for status in (200, 400):
        response = httpx.post(
            platform.token_url,
            data={"grant_type": "client_credentials"},
            auth=(agency.client_id, agency.client_secret),
            headers={"DPoP": proof},
        )
        assert response.status_code == status, response.text
    assert "used before" in response.json()["error_description"]


def test_create_and_get_a_payment_over_grpc_with_fresh_proofs(
    platform: Platform, token: str, key: DpopKey
) -> None:
    stub = payments(platform)
    created = stub.CreatePayment(
        create_request(), metadata=bound(token, key.proof("POST", PAYMENTS_URL + CREATE, token))
    )
    fetched = stub.GetPayment(
        pb.GetPaymentRequest(payment_id=created.id),
        metadata=bound(token, key.proof("POST", PAYMENTS_URL + GET, token)),
    )
    assert fetched.id == created.id


def test_create_and_get_a_payment_over_json_with_fresh_proofs(
    platform: Platform, token: str, key: DpopKey
) -> None:
    base = platform.payments.http_url

    def post(path: str, body: dict[str, Any]) -> httpx.Response:
        return httpx.post(
            base + path,
            content=json.dumps(body),
            headers={
                "content-type": "application/json",
                "authorization": f"DPoP {token}",
                "dpop": key.proof("POST", PAYMENTS_URL + path, token),
            },
        )

    created = post(
        CREATE,
        {
            "amount": 1050,
            "reference": "REF-1",
            "description": "Passport fee",
            "returnUrl": "https://agency.example/done",
            "idempotencyKey": uuid.uuid4().hex,
        },
    )
    assert created.status_code == 200, created.text
    fetched = post(GET, {"paymentId": created.json()["id"]})
    assert fetched.status_code == 200, fetched.text
    assert fetched.json()["id"] == created.json()["id"]


def test_a_replayed_proof_is_refused(platform: Platform, token: str, key: DpopKey) -> None:
    stub = payments(platform)
    metadata = bound(token, key.proof("POST", PAYMENTS_URL + CREATE, token))
    stub.CreatePayment(create_request(), metadata=metadata)
    error = refusal(lambda: stub.CreatePayment(create_request(), metadata=metadata))
    assert "used before" in str(error.details())


@pytest.mark.parametrize(
    ("proof_for", "message"),
    [
        (lambda key, token: key.proof("POST", PAYMENTS_URL + GET, token), "'htu'"),
        (lambda key, token: key.proof("POST", NOTIFY_URL + CREATE, token), "'htu'"),
        (lambda key, token: key.proof("POST", PAYMENTS_URL + CREATE, token + "x"), "'ath'"),
        (lambda key, token: key.proof("POST", PAYMENTS_URL + CREATE), "'ath'"),
        (
            lambda key, token: DpopKey.generate().proof("POST", PAYMENTS_URL + CREATE, token),
            "another key",
        ),
    ],
    ids=["wrong-method-htu", "wrong-host-htu", "wrong-ath", "no-ath", "another-key"],
)
def test_a_wrong_proof_is_refused(
    platform: Platform, token: str, key: DpopKey, proof_for: Any, message: str
) -> None:
    metadata = bound(token, proof_for(key, token))
    error = refusal(lambda: payments(platform).CreatePayment(create_request(), metadata=metadata))
    assert message in str(error.details())


def test_a_bound_token_without_a_proof_is_refused(platform: Platform, token: str) -> None:
    metadata = (("authorization", f"DPoP {token}"),)
    error = refusal(lambda: payments(platform).CreatePayment(create_request(), metadata=metadata))
    assert "send a DPoP proof" in str(error.details())


@pytest.mark.parametrize("service", ["payments", "notify"])
def test_a_bound_token_sent_as_bearer_is_refused(
    platform: Platform, token: str, key: DpopKey, service: str
) -> None:
    stub = caller_pb2_grpc.CallerServiceStub(platform.channel(service))
    base = PAYMENTS_URL if service == "payments" else NOTIFY_URL
    metadata = (*bearer(token), ("dpop", key.proof("POST", base + CALLER, token)))
    error = refusal(
        lambda: stub.GetCallerIdentity(caller_pb2.GetCallerIdentityRequest(), metadata=metadata)
    )
    assert "bound to a DPoP key" in str(error.details())


def test_notify_accepts_a_bound_token_with_its_proof(
    platform: Platform, agency: SecretAgency, token: str, key: DpopKey
) -> None:
    stub = caller_pb2_grpc.CallerServiceStub(platform.channel("notify"))
    reply = stub.GetCallerIdentity(
        caller_pb2.GetCallerIdentityRequest(),
        metadata=bound(token, key.proof("POST", NOTIFY_URL + CALLER, token)),
    )
    assert reply.client_id == agency.client_id


def test_over_http_a_bound_bearer_token_gets_a_dpop_challenge(
    platform: Platform, token: str
) -> None:
    response = httpx.post(
        platform.payments.http_url + GET,
        content=json.dumps({"paymentId": "pay_x"}),
        headers={"content-type": "application/json", "authorization": f"Bearer {token}"},
    )
    assert response.status_code == 401
    assert response.json()["code"] == "unauthenticated"
    assert response.headers["www-authenticate"].startswith('DPoP error="invalid_token"')


def test_over_http_a_replayed_proof_gets_an_invalid_dpop_proof_challenge(
    platform: Platform, token: str, key: DpopKey
) -> None:
    headers = {
        "content-type": "application/json",
        "authorization": f"DPoP {token}",
        "dpop": key.proof("POST", PAYMENTS_URL + GET, token),
    }
    body = json.dumps({"paymentId": "pay_0123456789abcdef0123456789abcdef"})
    first = httpx.post(platform.payments.http_url + GET, content=body, headers=headers)
    assert first.status_code == 404  # authenticated; the payment does not exist
    again = httpx.post(platform.payments.http_url + GET, content=body, headers=headers)
    assert again.status_code == 401
    assert again.headers["www-authenticate"].startswith('DPoP error="invalid_dpop_proof"')
    assert access_token_hash(token) not in again.text


@pytest.mark.redis
def test_two_payments_replicas_on_redis_refuse_a_proof_replayed_to_the_other(
    platform: Platform, database_url: str, redis_url: str, token: str, key: DpopKey
) -> None:
    settings = platform.settings.model_copy(update={"redis_url": redis_url})
    replicas = [
        process.start(
            payments_bootstrap.build(settings, server_settings(PaymentsSettings, database_url))
        )
        for _ in range(2)
    ]
    channels = [grpc.insecure_channel(r.grpc_target) for r in replicas]
    try:
        stubs = [pb_grpc.PaymentsServiceStub(c) for c in channels]
        metadata = bound(token, key.proof("POST", PAYMENTS_URL + CREATE, token))
        stubs[0].CreatePayment(create_request(), metadata=metadata)
        error = refusal(lambda: stubs[1].CreatePayment(create_request(), metadata=metadata))
        assert "used before" in str(error.details())
        fresh = bound(token, key.proof("POST", PAYMENTS_URL + CREATE, token))
        assert stubs[1].CreatePayment(create_request(), metadata=fresh).amount == 1050
    finally:
        for channel in channels:
            channel.close()
        for replica in replicas:
            replica.stop(grace=1)


def test_two_dpop_headers_are_refused_at_the_token_endpoint_and_over_json(
    platform: Platform, agency: SecretAgency, token: str, key: DpopKey
) -> None:
    response = httpx.post(
        platform.token_url,
        data={"grant_type": "client_credentials"},
        auth=(agency.client_id, agency.client_secret),
        headers=[("DPoP", key.proof("POST", TOKEN_ENDPOINT)) for _ in range(2)],
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_dpop_proof"
    assert "exactly one" in response.json()["error_description"]
    refused = httpx.post(
        platform.payments.http_url + GET,
        content=json.dumps({"paymentId": "pay_0123456789abcdef0123456789abcdef"}),
        headers=[
            ("content-type", "application/json"),
            ("authorization", f"DPoP {token}"),
            *(("dpop", key.proof("POST", PAYMENTS_URL + GET, token)) for _ in range(2)),
        ],
    )
    assert refused.status_code == 401
    assert "exactly one DPoP proof" in refused.json()["message"]
