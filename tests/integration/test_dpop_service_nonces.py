"""Server nonces at payments (PAYMENTS_DPOP_NONCES; notify's NOTIFY_DPOP_NONCES is
the same code), on SQLite and PostgreSQL: a bound token's proof without the current
nonce is UNAUTHENTICATED with the nonce in trailing metadata ``dpop-nonce`` (over
JSON, 401 with ``WWW-Authenticate: DPoP error="use_dpop_nonce"`` and ``DPoP-Nonce``);
a retry signed with it goes through, on either replica."""

from __future__ import annotations

import json
from collections.abc import Iterator

import grpc
import httpx
import pytest
from gaap.payments.v1 import payments_pb2 as pb
from gaap.payments.v1 import payments_pb2_grpc as pb_grpc

from services.payments import bootstrap as payments_bootstrap
from services.payments.settings import PaymentsSettings
from services.runtime import process
from services.runtime.process import RunningService
from tests.support.dpop_proofs import Prover
from tests.support.platform import TOKEN_ENDPOINT, Platform, server_settings

PAYMENTS_URL = "http://127.0.0.1:8082"  # payments' public_url (its default)
GET = "/gaap.payments.v1.PaymentsService/GetPayment"
PAYMENT_ID = "pay_0123456789abcdef0123456789abcdef"


@pytest.fixture
def replicas(platform: Platform, database_url: str) -> Iterator[list[RunningService]]:
    settings = server_settings(PaymentsSettings, database_url, dpop_nonces=True)
    started = [
        process.start(payments_bootstrap.build(platform.settings, settings)) for _ in range(2)
    ]
    yield started
    for replica in started:
        replica.stop(grace=1)


def bound_token(platform: Platform, key: Prover) -> str:
    agency = platform.secret_agency()
    response = httpx.post(
        platform.token_url,
        data={"grant_type": "client_credentials"},
        auth=(agency.client_id, agency.client_secret),
        headers={"DPoP": key.proof("POST", TOKEN_ENDPOINT)},
    )
    token: str = response.json()["access_token"]
    return token


def test_a_proof_without_the_nonce_is_told_the_nonce_over_grpc(
    platform: Platform, replicas: list[RunningService]
) -> None:
    key = Prover()
    token = bound_token(platform, key)
    channels = [grpc.insecure_channel(r.grpc_target) for r in replicas]
    try:
        stubs = [pb_grpc.PaymentsServiceStub(c) for c in channels]
        request = pb.GetPaymentRequest(payment_id=PAYMENT_ID)

        def metadata(proof: str) -> tuple[tuple[str, str], ...]:
            return (("authorization", f"DPoP {token}"), ("dpop", proof))

        with pytest.raises(grpc.RpcError) as caught:
            stubs[0].GetPayment(
                request, metadata=metadata(key.proof("POST", PAYMENTS_URL + GET, token))
            )
        error: grpc.Call = caught.value  # type: ignore[assignment]
        assert error.code() == grpc.StatusCode.UNAUTHENTICATED
        trailers = dict(error.trailing_metadata() or ())
        assert str(trailers["www-authenticate"]).startswith('DPoP error="use_dpop_nonce"')
        nonce = str(trailers["dpop-nonce"])
        retry = key.proof("POST", PAYMENTS_URL + GET, token, nonce=nonce)
        with pytest.raises(grpc.RpcError) as missing:  # authenticated: the payment is unknown
            stubs[1].GetPayment(request, metadata=metadata(retry))
        assert missing.value.code() == grpc.StatusCode.NOT_FOUND
    finally:
        for channel in channels:
            channel.close()


def test_a_proof_without_the_nonce_is_told_the_nonce_over_json(
    platform: Platform, replicas: list[RunningService]
) -> None:
    key = Prover()
    token = bound_token(platform, key)

    def get(proof: str) -> httpx.Response:
        return httpx.post(
            replicas[0].http_url + GET,
            content=json.dumps({"paymentId": PAYMENT_ID}),
            headers={
                "content-type": "application/json",
                "authorization": f"DPoP {token}",
                "dpop": proof,
            },
        )

    asked = get(key.proof("POST", PAYMENTS_URL + GET, token))
    assert asked.status_code == 401
    assert asked.headers["www-authenticate"].startswith('DPoP error="use_dpop_nonce"')
    nonce = asked.headers["dpop-nonce"]
    assert get(key.proof("POST", PAYMENTS_URL + GET, token, nonce=nonce)).status_code == 404


def test_without_the_option_payments_asks_for_no_nonce(platform: Platform) -> None:
    key = Prover()
    token = bound_token(platform, key)
    answer = httpx.post(
        platform.payments.http_url + GET,
        content=json.dumps({"paymentId": PAYMENT_ID}),
        headers={
            "content-type": "application/json",
            "authorization": f"DPoP {token}",
            "dpop": key.proof("POST", PAYMENTS_URL + GET, token),
        },
    )
    assert answer.status_code == 404
