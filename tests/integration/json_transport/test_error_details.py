"""What a refusal tells a program, the same over gRPC and over JSON (Connect):
a refund's available amount as ``google.rpc.ErrorInfo`` metadata, and token
refusals that name the header (HTTP) or the metadata (gRPC) the caller sends."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import grpc
import httpx
import pytest
from gaap.payments.v1 import payments_pb2 as ppb
from google.protobuf import json_format
from google.protobuf.message import Message
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from services.runtime.json_gateway import CONNECT_CODES
from tests.integration.payments.support import MAGIC, PUBLIC_URL, pay_on_page
from tests.support.platform import Platform, bearer

PAYMENTS = "/gaap.payments.v1.PaymentsService/"


@dataclass
class Refusal:
    code: str  # Connect's code name; "ok" when the call succeeded
    message: str = ""
    # every google.rpc.ErrorInfo detail: reason -> (domain, metadata)
    reasons: dict[str, tuple[str, dict[str, str]]] = field(default_factory=dict)


Call = Callable[[str, Message, type[Message], str | None], Refusal]


def over_grpc(platform: Platform) -> Call:
    def call(method: str, request: Message, reply: type[Message], token: str | None) -> Refusal:
        stub = platform.channel("payments").unary_unary(
            PAYMENTS + method,
            request_serializer=lambda m: m.SerializeToString(),
            response_deserializer=reply.FromString,
        )
        try:
            stub(request, metadata=bearer(token) if token else None, timeout=10)
        except grpc.RpcError as caught:
            error: Any = caught
            status = rpc_status.from_call(error)
            reasons = {}
            for detail in status.details if status is not None else ():
                info = error_details_pb2.ErrorInfo()
                if detail.Unpack(info):
                    reasons[info.reason] = (info.domain, dict(info.metadata))
            return Refusal(CONNECT_CODES[error.code()][0], error.details(), reasons)
        return Refusal("ok")

    return call


def over_json(platform: Platform) -> Call:
    def call(method: str, request: Message, reply: type[Message], token: str | None) -> Refusal:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        response = httpx.post(
            platform.service("payments").http_url + PAYMENTS + method,
            json=json_format.MessageToDict(request),
            headers=headers,
        )
        if response.status_code == 200:
            return Refusal("ok")
        document = response.json()
        assert response.status_code == dict(CONNECT_CODES.values())[document["code"]]
        reasons = {}
        for detail in document.get("details", []):
            if detail["type"] != "google.rpc.ErrorInfo":
                continue
            raw = base64.b64decode(detail["value"] + "=" * (-len(detail["value"]) % 4))
            info = error_details_pb2.ErrorInfo.FromString(raw)
            reasons[info.reason] = (info.domain, dict(info.metadata))
            # The readable copy Connect clients show says the same as the encoded one.
            assert detail["debug"] == {
                "reason": info.reason,
                "domain": info.domain,
                "metadata": dict(info.metadata),
            }
        return Refusal(document["code"], document["message"], reasons)

    return call


@pytest.fixture(params=["grpc", "json"])
def call(request: pytest.FixtureRequest, platform: Platform) -> Call:
    maker: Callable[[Platform], Call] = {"grpc": over_grpc, "json": over_json}[request.param]
    return maker(platform)


def paid_payment(platform: Platform, token: str, amount: int) -> str:
    created: ppb.Payment = platform.channel("payments").unary_unary(
        PAYMENTS + "CreatePayment",
        request_serializer=lambda m: m.SerializeToString(),
        response_deserializer=ppb.Payment.FromString,
    )(
        ppb.CreatePaymentRequest(
            amount=amount,
            reference="REF-1",
            description="Permit",
            return_url="https://agency.example/done",
            idempotency_key=uuid.uuid4().hex,
        ),
        metadata=bearer(token),
        timeout=10,
    )
    page = created.next_url.replace(PUBLIC_URL, platform.service("payments").http_url)
    assert pay_on_page(page, MAGIC["success"]).status_code == 303
    return created.id


def test_a_refund_over_the_available_amount_carries_it_as_error_info(
    call: Call, platform: Platform
) -> None:
    token = platform.token(platform.secret_agency())
    payment_id = paid_payment(platform, token, 1000)

    def refund(amount: int, expected: int | None = None) -> Refusal:
        request = ppb.CreateRefundRequest(
            payment_id=payment_id, amount=amount, idempotency_key=uuid.uuid4().hex
        )
        if expected is not None:
            request.expected_available_amount = expected
        return call("CreateRefund", request, ppb.Refund, token)

    assert refund(300).code == "ok"
    too_much = refund(701)
    assert too_much == Refusal(
        "failed_precondition",
        "refund of 701 exceeds the available amount 700; nothing was refunded",
        {
            "REFUND_EXCEEDS_AVAILABLE": (
                "payments.gaap",
                {"available_amount": "700", "requested_amount": "701", "currency": "GBP"},
            )
        },
    )
    stale = refund(100, expected=1000)
    assert stale.code == "failed_precondition"
    assert stale.reasons == {
        "AVAILABLE_AMOUNT_CHANGED": (
            "payments.gaap",
            {"available_amount": "700", "expected_available_amount": "1000", "currency": "GBP"},
        )
    }
    # Neither refusal refunded anything: the whole amount left can still be refunded.
    assert refund(700, expected=700).code == "ok"


@pytest.mark.parametrize(
    ("transport", "missing", "malformed"),
    [
        (
            "grpc",
            "missing access token: send metadata 'authorization: Bearer <token>'",
            "authorization metadata must be 'Bearer <token>' or 'DPoP <token>'",
        ),
        (
            "json",
            "missing access token: send the header 'Authorization: Bearer <token>'",
            "the Authorization header must be 'Bearer <token>' or 'DPoP <token>'",
        ),
    ],
)
def test_token_refusals_name_what_the_transport_carries(
    platform: Platform, transport: str, missing: str, malformed: str
) -> None:
    """gRPC callers send metadata and HTTP callers send headers: each refusal uses
    the caller's word."""
    call = {"grpc": over_grpc, "json": over_json}[transport](platform)
    request = ppb.GetPaymentRequest()
    assert call("GetPayment", request, ppb.Payment, None) == Refusal("unauthenticated", missing)
    if transport == "grpc":
        with pytest.raises(grpc.RpcError) as caught:
            platform.channel("payments").unary_unary(
                PAYMENTS + "GetPayment",
                request_serializer=lambda m: m.SerializeToString(),
                response_deserializer=ppb.Payment.FromString,
            )(request, metadata=(("authorization", "Basic abc"),), timeout=10)
        error: Any = caught.value
        assert (error.code(), error.details()) == (grpc.StatusCode.UNAUTHENTICATED, malformed)
    else:
        response = httpx.post(
            platform.service("payments").http_url + PAYMENTS + "GetPayment",
            json={},
            headers={"authorization": "Basic abc"},
        )
        assert response.status_code == 401
        assert response.json() == {"code": "unauthenticated", "message": malformed}
