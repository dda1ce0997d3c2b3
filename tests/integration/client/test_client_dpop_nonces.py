"""DPoP server nonces on gRPC (RFC 9449 §9), against a real gRPC server that asks
for them as a resource server may: UNAUTHENTICATED with a ``dpop-nonce`` trailer
until the proof carries the nonce; every answer's ``dpop-nonce`` is the next one.
The call policy retries once with a new proof carrying the nonce, and sends the
latest nonce with the next call; the last test does it against the real payments
with PAYMENTS_DPOP_NONCES on (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass, field
from typing import Any

import grpc
import jwt
import pytest
from gaap.common.v1 import caller_pb2, caller_pb2_grpc
from gaap.payments.v1 import payments_pb2 as ppb
from gaap.payments.v1 import payments_pb2_grpc

from gaap_client import ClientSecret, Targets, TokenSource
from gaap_client.calls import NO_RETRIES, CallPolicy, open_channel
from gaap_client.dpop import DpopKey
from gaap_client.errors import Unauthenticated
from services.payments import bootstrap as payments_bootstrap
from services.payments.settings import PaymentsSettings
from services.runtime import process
from services.runtime.process import RunningService
from tests.support.platform import Platform, server_settings

PUBLIC_URL = "https://payments.example"
METHOD = "/gaap.payments.v1.PaymentsService/CreatePayment"


@dataclass
class Service:
    """Wants ``nonce`` in every proof; answers each call with the next one."""

    nonce: str = "n-1"
    never_satisfied: bool = False
    proofs: list[dict[str, Any]] = field(default_factory=list)

    def create_payment(self, request: ppb.CreatePaymentRequest, context: Any) -> ppb.Payment:
        metadata = dict(context.invocation_metadata())
        claims = jwt.decode(metadata["dpop"], options={"verify_signature": False})
        self.proofs.append(claims)
        assert claims["htu"] == PUBLIC_URL + METHOD
        assert metadata["authorization"] == "DPoP tok"
        if self.never_satisfied or claims.get("nonce") != self.nonce:
            if self.never_satisfied:
                self.nonce += "x"
            context.set_trailing_metadata((("dpop-nonce", self.nonce),))
            context.abort(grpc.StatusCode.UNAUTHENTICATED, 'DPoP error="use_dpop_nonce"')
        self.nonce = f"n-{len(self.proofs) + 1}"
        context.set_trailing_metadata((("dpop-nonce", self.nonce),))
        return ppb.Payment(id="pay_1")


class Tokens:
    def __init__(self) -> None:
        self.invalidated = 0

    def token(self) -> str:
        return "tok"

    def invalidate(self) -> None:
        self.invalidated += 1


@pytest.fixture
def service() -> Iterator[tuple[str, Service]]:
    state = Service()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    handler = grpc.unary_unary_rpc_method_handler(
        state.create_payment,
        request_deserializer=ppb.CreatePaymentRequest.FromString,
        response_serializer=ppb.Payment.SerializeToString,
    )
    server.add_generic_rpc_handlers(
        (
            grpc.method_handlers_generic_handler(
                "gaap.payments.v1.PaymentsService", {"CreatePayment": handler}
            ),
        )
    )
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield f"127.0.0.1:{port}", state
    server.stop(None)


def _stub(target: str, tokens: Tokens) -> tuple[payments_pb2_grpc.PaymentsServiceStub, Any]:
    policy = CallPolicy(tokens, retry=NO_RETRIES, dpop=DpopKey.generate(), public_url=PUBLIC_URL)
    channel = open_channel(target, policy)
    return payments_pb2_grpc.PaymentsServiceStub(channel), channel


def test_a_nonce_asked_for_is_sent_once_more_then_the_latest_with_every_call(
    service: tuple[str, Service],
) -> None:
    target, state = service
    tokens = Tokens()
    stub, channel = _stub(target, tokens)
    with channel:
        assert stub.CreatePayment(ppb.CreatePaymentRequest(amount=1)).id == "pay_1"
        assert stub.CreatePayment(ppb.CreatePaymentRequest(amount=2)).id == "pay_1"
    # Refused without a nonce, retried with it; the next call sent the nonce the
    # success carried straight away.
    assert [p.get("nonce") for p in state.proofs] == [None, "n-1", "n-3"]
    assert len({p["jti"] for p in state.proofs}) == 3  # a new proof each time
    assert tokens.invalidated == 0  # the token was fine: not fetched again


def test_a_service_that_keeps_refusing_is_asked_once_more_for_each_reason(
    service: tuple[str, Service],
) -> None:
    target, state = service
    state.never_satisfied = True
    tokens = Tokens()
    stub, channel = _stub(target, tokens)
    with channel, pytest.raises(Unauthenticated):
        stub.CreatePayment(ppb.CreatePaymentRequest(amount=1))
    # One retry for the nonce, one for a renewed token (which may then want the
    # newest nonce, but gets no more tries): never a loop.
    assert len(state.proofs) == 3
    assert tokens.invalidated == 1


@pytest.fixture
def payments_with_nonces(platform: Platform, database_url: str) -> Iterator[RunningService]:
    settings = server_settings(PaymentsSettings, database_url, dpop_nonces=True)
    running = process.start(payments_bootstrap.build(platform.settings, settings))
    yield running
    running.stop(grace=1)


def test_the_client_meets_payments_nonces_without_the_caller_noticing(
    platform: Platform, payments_with_nonces: RunningService
) -> None:
    """Against the real payments with PAYMENTS_DPOP_NONCES: the first call is
    told the nonce and sent again with it (the token was fine: not fetched
    again); later calls carry it from the start."""
    agency = platform.secret_agency()
    key = DpopKey.generate()
    tokens = TokenSource(
        platform.token_url, ClientSecret(agency.client_id, agency.client_secret), dpop=key
    )
    policy = CallPolicy(tokens, dpop=key, public_url=Targets().payments_url)
    with open_channel(payments_with_nonces.grpc_target, policy) as channel:
        stub = caller_pb2_grpc.CallerServiceStub(channel)
        for _ in range(3):
            me = stub.GetCallerIdentity(caller_pb2.GetCallerIdentityRequest())
            assert me.client_id == agency.client_id
    assert policy.nonces.get(Targets().payments_url)  # payments' nonce, kept
    assert tokens.issued == 1
