"""The same calls over gRPC and over JSON (Connect unary, plain HTTP with httpx):
equivalent answers, the same authentication and the same errors, because the
gateway calls the service's own gRPC server."""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import grpc
import httpx
import pytest
from gaap.notify.v1 import notify_pb2 as npb
from gaap.notify.v1 import notify_pb2_grpc
from gaap.payments.v1 import payments_pb2 as ppb
from google.protobuf import json_format
from google.protobuf.message import Message
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from services.runtime.json_gateway import CONNECT_CODES
from tests.support.platform import Platform, SecretAgency, bearer, running_platform

PAYMENTS = "/gaap.payments.v1.PaymentsService/"
NOTIFY = "/gaap.notify.v1.NotifyService/"
CALLER = "/gaap.common.v1.CallerService/GetCallerIdentity"


@dataclass
class Outcome:
    """What a call gave, in transport-neutral terms."""

    code: str  # Connect's code names; "ok" on success
    body: dict[str, Any] = field(default_factory=dict)  # the response in proto3 JSON
    violations: list[str] = field(default_factory=list)
    message: str = ""


@dataclass
class Setup:
    platform: Platform
    gateways: dict[str, str]  # service name -> the gateway's base URL
    agency: SecretAgency
    token: str
    template_id: str


@pytest.fixture(scope="module")
def setup(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    """The platform; each service answers JSON on its own HTTP port."""
    with running_platform(database_url, tmp_path_factory.mktemp("var")) as platform:
        gateways = {name: platform.service(name).http_url for name in ("payments", "notify")}
        agency = platform.secret_agency()
        token = platform.token(agency)
        template = notify_pb2_grpc.NotifyServiceStub(platform.channel("notify")).CreateTemplate(
            npb.CreateTemplateRequest(
                channel=npb.CHANNEL_EMAIL,
                name="Receipt",
                contents=[npb.TemplateContent(language="en", subject="Paid", body="Hi ((name))")],
                idempotency_key="tpl",
            ),
            metadata=bearer(token),
        )
        yield Setup(platform, gateways, agency, token, template.id)


Call = Callable[[str, str, Message, type[Message], str | None], Outcome]


def _grpc(setup: Setup) -> Call:
    def call(
        service: str, path: str, request: Message, reply: type[Message], token: str | None
    ) -> Outcome:
        method = setup.platform.channel(service).unary_unary(
            path,
            request_serializer=lambda m: m.SerializeToString(),
            response_deserializer=reply.FromString,
        )
        try:
            response = method(request, metadata=bearer(token) if token else None, timeout=10)
        except grpc.RpcError as error:
            call_error: Any = error
            status = rpc_status.from_call(call_error)
            violations = []
            for detail in status.details if status else ():
                bad = error_details_pb2.BadRequest()
                if detail.Unpack(bad):
                    violations += [v.field for v in bad.field_violations]
            code = CONNECT_CODES[call_error.code()][0]
            return Outcome(code, violations=violations, message=call_error.details())
        return Outcome("ok", json_format.MessageToDict(response))

    return call


def _json(setup: Setup) -> Call:
    def call(
        service: str, path: str, request: Message, reply: type[Message], token: str | None
    ) -> Outcome:
        headers = {"content-type": "application/json"}
        if token:
            headers["authorization"] = f"Bearer {token}"
        # A plain HTTP client: the body is written by hand from the message's JSON.
        body = json.dumps(json_format.MessageToDict(request))
        response = httpx.post(setup.gateways[service] + path, content=body, headers=headers)
        document = response.json()
        if response.status_code == 200:
            return Outcome("ok", document)
        assert response.status_code == dict(CONNECT_CODES.values())[document["code"]]
        violations = []
        for detail in document.get("details", []):
            if detail["type"] == "google.rpc.BadRequest":
                raw = base64.b64decode(detail["value"] + "=" * (-len(detail["value"]) % 4))
                bad = error_details_pb2.BadRequest.FromString(raw)
                violations += [v.field for v in bad.field_violations]
                assert [v["field"] for v in detail["debug"]["fieldViolations"]] == violations
        return Outcome(document["code"], violations=violations, message=document["message"])

    return call


@pytest.fixture(params=["grpc", "json"])
def call(request: pytest.FixtureRequest, setup: Setup) -> Call:
    maker: Callable[[Setup], Call] = {"grpc": _grpc, "json": _json}[request.param]
    return maker(setup)


def _payment(**fields: Any) -> ppb.CreatePaymentRequest:
    values: dict[str, Any] = {
        "amount": 1250,
        "reference": "REF-1",
        "description": "Permit",
        "return_url": "https://agency.example/done",
        "idempotency_key": uuid.uuid4().hex,
    }
    values.update(fields)
    return ppb.CreatePaymentRequest(**values)


def test_create_then_get_a_payment(call: Call, setup: Setup) -> None:
    created = call("payments", PAYMENTS + "CreatePayment", _payment(), ppb.Payment, setup.token)
    assert created.code == "ok"
    assert created.body["amount"] == "1250"  # proto3 JSON: int64 as a string
    assert created.body["state"] == "PAYMENT_STATE_CREATED"
    got = call(
        "payments",
        PAYMENTS + "GetPayment",
        ppb.GetPaymentRequest(payment_id=created.body["id"]),
        ppb.Payment,
        setup.token,
    )
    assert got.code == "ok"
    assert got.body["id"] == created.body["id"]
    assert got.body["nextUrl"] == created.body["nextUrl"]


def test_both_transports_read_the_same_payment_identically(setup: Setup) -> None:
    created = _grpc(setup)(
        "payments", PAYMENTS + "CreatePayment", _payment(), ppb.Payment, setup.token
    )
    request = ppb.GetPaymentRequest(payment_id=created.body["id"])
    over_grpc = _grpc(setup)("payments", PAYMENTS + "GetPayment", request, ppb.Payment, setup.token)
    over_json = _json(setup)("payments", PAYMENTS + "GetPayment", request, ppb.Payment, setup.token)
    assert over_grpc == over_json


def test_send_an_email(call: Call, setup: Setup) -> None:
    sent = call(
        "notify",
        NOTIFY + "SendEmail",
        npb.SendEmailRequest(
            template_id=setup.template_id,
            email_address="resident@example.com",
            personalisation={"name": npb.PersonalisationValue(text="Ada")},
            idempotency_key=uuid.uuid4().hex,
        ),
        npb.Notification,
        setup.token,
    )
    assert sent.code == "ok"
    assert sent.body["status"] == "STATUS_CREATED"
    assert sent.body["body"] == "Hi Ada"


def test_caller_identity(call: Call, setup: Setup) -> None:
    from gaap.common.v1 import caller_pb2

    me = call(
        "notify",
        CALLER,
        caller_pb2.GetCallerIdentityRequest(),
        caller_pb2.CallerIdentity,
        setup.token,
    )
    assert me.code == "ok"
    assert me.body["clientId"] == setup.agency.client_id
    assert me.body["service"] == "notify"


def test_bad_input_names_each_field(
    call: Call, setup: Setup, request: pytest.FixtureRequest
) -> None:
    bad = call(
        "payments",
        PAYMENTS + "CreatePayment",
        _payment(amount=0, return_url="ftp://x"),
        ppb.Payment,
        setup.token,
    )
    assert bad.code == "invalid_argument"
    # Over JSON a field is named as the body spelled it (here lowerCamelCase).
    return_url = {"grpc": "return_url", "json": "returnUrl"}[request.node.callspec.params["call"]]
    assert {"amount", return_url} <= set(bad.violations)


def test_a_missing_token_is_unauthenticated(call: Call) -> None:
    anonymous = call(
        "payments",
        PAYMENTS + "GetPayment",
        ppb.GetPaymentRequest(payment_id="pay_x"),
        ppb.Payment,
        None,
    )
    assert anonymous.code == "unauthenticated"


def test_a_missing_scope_is_permission_denied(call: Call, setup: Setup) -> None:
    narrow = setup.platform.token(setup.agency, scope="payments:read")
    denied = call("payments", PAYMENTS + "CreatePayment", _payment(), ppb.Payment, narrow)
    assert denied.code == "permission_denied"


def test_another_agencys_payment_is_not_found(call: Call, setup: Setup) -> None:
    created = _grpc(setup)(
        "payments", PAYMENTS + "CreatePayment", _payment(), ppb.Payment, setup.token
    )
    stranger = setup.platform.token(setup.platform.secret_agency())
    got = call(
        "payments",
        PAYMENTS + "GetPayment",
        ppb.GetPaymentRequest(payment_id=created.body["id"]),
        ppb.Payment,
        stranger,
    )
    assert got.code == "not_found"


# -- what only the JSON side has ---------------------------------------------------


def test_the_services_own_routes_still_answer(setup: Setup) -> None:
    assert httpx.get(setup.gateways["payments"] + "/healthz").status_code == 200


def test_json_needs_the_json_content_type(setup: Setup) -> None:
    response = httpx.post(
        setup.gateways["payments"] + PAYMENTS + "GetPayment",
        content=b"{}",
        headers={"content-type": "text/plain", "authorization": f"Bearer {setup.token}"},
    )
    assert response.status_code == 415


def test_a_body_that_is_not_the_message_is_invalid_argument(setup: Setup) -> None:
    for body in (b"{not json", b'{"amount": "lots"}', b'{"noSuchField": 1}'):
        response = httpx.post(
            setup.gateways["payments"] + PAYMENTS + "CreatePayment",
            content=body,
            headers={"content-type": "application/json", "authorization": f"Bearer {setup.token}"},
        )
        assert response.status_code == 400
        assert response.json()["code"] == "invalid_argument"


def test_snake_case_field_names_are_accepted_too(setup: Setup) -> None:
    response = httpx.post(
        setup.gateways["payments"] + PAYMENTS + "CreatePayment",
        json={
            "amount": 500,
            "reference": "R",
            "description": "D",
            "return_url": "https://agency.example/x",
            "idempotency_key": uuid.uuid4().hex,
        },
        headers={"authorization": f"Bearer {setup.token}"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["returnUrl"] == "https://agency.example/x"


def test_the_request_id_comes_back_on_errors(setup: Setup) -> None:
    response = httpx.post(
        setup.gateways["payments"] + PAYMENTS + "GetPayment",
        json={"paymentId": "pay_nope"},
        headers={"authorization": f"Bearer {setup.token}", "x-request-id": "req-1234567890"},
    )
    assert response.status_code == 404
    assert response.headers["x-request-id"] == "req-1234567890"


def test_openapi_is_served_and_every_reference_resolves(setup: Setup) -> None:
    document = httpx.get(setup.gateways["payments"] + "/openapi.json").json()
    assert document["openapi"] == "3.1.0"
    assert PAYMENTS + "CreatePayment" in document["paths"]
    assert CALLER in document["paths"]
    schemas = document["components"]["schemas"]
    text = json.dumps(document)
    for ref in set(re.findall(r'"\$ref": "#/components/schemas/([^"]+)"', text)):
        assert ref in schemas
    payment = schemas["gaap.payments.v1.Payment"]["properties"]
    assert payment["amount"]["format"] == "int64"
    assert payment["createTime"]["format"] == "date-time"
    assert payment["state"]["enum"][0] == "PAYMENT_STATE_UNSPECIFIED"


@pytest.mark.parametrize("service", ["identity", "payments", "notify"])
def test_every_service_serves_json_and_its_openapi_on_its_own_http_port(
    setup: Setup, service: str
) -> None:
    base = setup.platform.service(service).http_url
    document = httpx.get(base + "/openapi.json").json()
    assert document["openapi"].startswith("3.1")
    assert "/gaap.common.v1.CallerService/GetCallerIdentity" in document["paths"]
    token = setup.platform.token(
        setup.platform.secret_agency(
            scopes=["identity:tokens"]
            if service == "identity"
            else ["payments:read", "notify:read"]
        )
    )
    reply = httpx.post(
        base + "/gaap.common.v1.CallerService/GetCallerIdentity",
        json={},
        headers={"authorization": f"Bearer {token}"},
    )
    assert reply.status_code == 200, reply.text
    assert reply.json()["service"] == service
    refused = httpx.post(base + "/gaap.common.v1.CallerService/GetCallerIdentity", json={})
    assert refused.status_code == 401
    assert refused.json()["code"] == "unauthenticated"
