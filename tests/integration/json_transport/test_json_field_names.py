"""Over JSON, a field violation names the field the way the request spelled it
(lowerCamelCase, or the proto name when the request used that); over gRPC the
proto name, as before."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import grpc
import httpx
import pytest
from gaap.payments.v1 import payments_pb2 as ppb
from gaap.payments.v1 import payments_pb2_grpc
from google.rpc import error_details_pb2

from gaap_client.errors import InvalidArgument
from gaap_client.errors import from_rpc_error as translate
from tests.support.platform import Platform, bearer, running_platform

CREATE = "/gaap.payments.v1.PaymentsService/CreatePayment"


@dataclass
class Setup:
    platform: Platform
    token: str


@pytest.fixture(scope="module")
def setup(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    with running_platform(database_url, tmp_path_factory.mktemp("var")) as platform:
        yield Setup(platform, platform.token(platform.secret_agency()))


def post(setup: Setup, body: dict[str, Any]) -> tuple[str, list[str], list[str]]:
    """The error's message, the violations' fields in the packed detail, and in its debug."""
    response = httpx.post(
        setup.platform.service("payments").http_url + CREATE,
        json={"reference": "R-1", "description": "Permit", **body},
        headers={"authorization": f"Bearer {setup.token}"},
    )
    assert response.status_code == 400, response.text
    document = response.json()
    [detail] = [d for d in document["details"] if d["type"] == "google.rpc.BadRequest"]
    raw = base64.b64decode(detail["value"] + "=" * (-len(detail["value"]) % 4))
    packed = [v.field for v in error_details_pb2.BadRequest.FromString(raw).field_violations]
    debug = [v["field"] for v in detail["debug"]["fieldViolations"]]
    return document["message"], packed, debug


def test_a_camel_case_request_hears_of_camel_case_fields(setup: Setup) -> None:
    message, packed, debug = post(
        setup, {"amount": "0", "returnUrl": "ftp://x", "idempotencyKey": uuid.uuid4().hex}
    )
    assert packed == debug == ["amount", "returnUrl"]
    assert message == "invalid request: check amount, returnUrl"


def test_a_snake_case_request_hears_of_snake_case_fields(setup: Setup) -> None:
    message, packed, debug = post(
        setup, {"amount": "0", "return_url": "ftp://x", "idempotency_key": uuid.uuid4().hex}
    )
    assert packed == debug == ["amount", "return_url"]
    assert message == "invalid request: check amount, return_url"


def test_a_map_key_is_named_as_sent(setup: Setup) -> None:
    _, packed, _ = post(
        setup,
        {
            "amount": "100",
            "returnUrl": "https://agency.example/done",
            "metadata": {"case_ref": "x" * 101},
            "idempotencyKey": uuid.uuid4().hex,
        },
    )
    assert packed == ["metadata.case_ref"]


def test_grpc_still_names_the_proto_field(setup: Setup) -> None:
    stub = payments_pb2_grpc.PaymentsServiceStub(setup.platform.channel("payments"))
    with pytest.raises(grpc.RpcError) as raised:
        stub.CreatePayment(
            ppb.CreatePaymentRequest(
                amount=0,
                reference="R-1",
                description="Permit",
                return_url="ftp://x",
                idempotency_key=uuid.uuid4().hex,
            ),
            metadata=bearer(setup.token),
        )
    error = translate(raised.value)
    assert isinstance(error, InvalidArgument)
    assert [v.field for v in error.field_violations] == ["amount", "return_url"]
