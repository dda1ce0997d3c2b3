"""identity's messages through gaap_client, against an in-process notify that
fails on purpose and an in-process token endpoint: the token comes from
identity's own endpoint (no HTTP), a lost call is retried with the same
idempotency key, a rejected token is renewed once."""

from __future__ import annotations

import base64
import itertools
import threading
from collections.abc import Iterator, Mapping
from concurrent import futures
from dataclasses import dataclass, field
from typing import Any

import grpc
import pytest
from gaap.notify.v1 import notify_pb2

from gaap_client import GaapClient, TokenError
from services.identity.adapters.notify_messenger import (
    NotifyMessenger,
    notify_client,
    template_name,
)
from services.identity.domain import messages
from services.identity.domain.messages import Kind

SCOPES = "notify:send notify:templates"


@dataclass
class FakeNotify:
    """ListTemplates, CreateTemplate, SendEmail and SendSms; what it saw."""

    valid_tokens: set[str] = field(default_factory=set)
    fail_next: list[grpc.StatusCode] = field(default_factory=list)
    templates: list[notify_pb2.Template] = field(default_factory=list)
    calls: list[tuple[str, Any]] = field(default_factory=list)
    tokens_seen: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def _enter(self, method: str, request: Any, context: Any) -> None:
        token = dict(context.invocation_metadata()).get("authorization", "")
        with self.lock:
            self.calls.append((method, request))
            self.tokens_seen.append(token)
            failure = self.fail_next.pop(0) if self.fail_next else None
        if token.removeprefix("Bearer ") not in self.valid_tokens:
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "bad token")
        if failure is not None:
            context.abort(failure, "try again")

    def list_templates(self, request: Any, context: Any) -> notify_pb2.ListTemplatesResponse:
        self._enter("ListTemplates", request, context)
        return notify_pb2.ListTemplatesResponse(templates=self.templates)

    def create_template(self, request: Any, context: Any) -> notify_pb2.Template:
        self._enter("CreateTemplate", request, context)
        template = notify_pb2.Template(
            id=f"tpl_{len(self.templates) + 1}",
            channel=request.channel,
            name=request.name,
            contents=request.contents,
        )
        self.templates.append(template)
        return template

    def send_email(self, request: Any, context: Any) -> notify_pb2.Notification:
        self._enter("SendEmail", request, context)
        return notify_pb2.Notification(id="ntf_1")

    def send_sms(self, request: Any, context: Any) -> notify_pb2.Notification:
        self._enter("SendSms", request, context)
        return notify_pb2.Notification(id="ntf_2")

    def sent(self, method: str) -> list[Any]:
        return [request for name, request in self.calls if name == method]


class TokenEndpoint:
    """identity's token endpoint's code path: (form, headers) -> (status, body, headers)."""

    def __init__(self, notify: FakeNotify) -> None:
        self.notify = notify
        self.forms: list[dict[str, str]] = []
        self._numbers = itertools.count(1)

    def __call__(self, form: dict[str, str], headers: Mapping[str, str]) -> tuple[int, Any, Any]:
        self.forms.append(form)
        basic = base64.b64encode(b"identity-agency:s3cret").decode()
        if headers.get("authorization") != f"Basic {basic}":
            return 401, {"error": "invalid_client"}, [("www-authenticate", "Basic")]
        token = f"at_{next(self._numbers)}"
        self.notify.valid_tokens.add(token)
        return 200, {"access_token": token, "token_type": "Bearer", "expires_in": 300}, []


@pytest.fixture
def notify() -> Iterator[tuple[str, FakeNotify]]:
    fake = FakeNotify()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))

    def unary(handler: Any, request_type: Any, response_type: Any) -> Any:
        return grpc.unary_unary_rpc_method_handler(
            handler,
            request_deserializer=request_type.FromString,
            response_serializer=response_type.SerializeToString,
        )

    handlers = {
        "ListTemplates": unary(
            fake.list_templates,
            notify_pb2.ListTemplatesRequest,
            notify_pb2.ListTemplatesResponse,
        ),
        "CreateTemplate": unary(
            fake.create_template, notify_pb2.CreateTemplateRequest, notify_pb2.Template
        ),
        "SendEmail": unary(fake.send_email, notify_pb2.SendEmailRequest, notify_pb2.Notification),
        "SendSms": unary(fake.send_sms, notify_pb2.SendSmsRequest, notify_pb2.Notification),
    }
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler("gaap.notify.v1.NotifyService", handlers),)
    )
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield f"127.0.0.1:{port}", fake
    server.stop(None)


@pytest.fixture
def client(notify: tuple[str, FakeNotify]) -> Iterator[tuple[GaapClient, TokenEndpoint]]:
    target, fake = notify
    endpoint = TokenEndpoint(fake)
    with notify_client(
        target,
        "identity-agency",
        "s3cret",
        "https://identity.example/oauth2/token",
        endpoint,
        SCOPES,
    ) as gaap:
        yield gaap, endpoint


def test_an_email_goes_through_notify_with_identitys_own_token(
    notify: tuple[str, FakeNotify], client: tuple[GaapClient, TokenEndpoint]
) -> None:
    _, fake = notify
    gaap, endpoint = client
    messenger = NotifyMessenger(gaap.notify)
    messenger.send(Kind.VERIFY_EMAIL, "ada@example.org", "cy", {"code": "123456", "minutes": "15"})
    assert endpoint.forms == [{"grant_type": "client_credentials", "scope": SCOPES}]
    assert set(fake.tokens_seen) == {"Bearer at_1"}  # one token for every call
    [created] = fake.sent("CreateTemplate")
    assert created.name == template_name(Kind.VERIFY_EMAIL)
    assert created.idempotency_key == created.name
    assert {c.language for c in created.contents} == set(messages.TEMPLATES[Kind.VERIFY_EMAIL])
    [email] = fake.sent("SendEmail")
    assert email.template_id == "tpl_1"
    assert email.email_address == "ada@example.org"
    assert email.personalisation["code"].text == "123456"
    assert email.reference == "identity:verify_email"
    # A second messenger (another replica) finds the template by name.
    again = NotifyMessenger(gaap.notify)
    assert again.template_id(Kind.VERIFY_EMAIL) == "tpl_1"
    assert len(fake.sent("CreateTemplate")) == 1


def test_an_sms_kind_is_sent_as_a_text_message(
    notify: tuple[str, FakeNotify], client: tuple[GaapClient, TokenEndpoint]
) -> None:
    _, fake = notify
    gaap, _ = client
    [kind, *_] = sorted(messages.SMS_KINDS, key=lambda k: k.value)
    NotifyMessenger(gaap.notify).send(kind, "+447700900123", "en", {"code": "1"})
    [sms] = fake.sent("SendSms")
    assert sms.phone_number == "+447700900123"
    assert fake.sent("SendEmail") == []


def test_a_lost_send_is_retried_with_the_same_idempotency_key(
    notify: tuple[str, FakeNotify], client: tuple[GaapClient, TokenEndpoint]
) -> None:
    _, fake = notify
    gaap, _ = client
    messenger = NotifyMessenger(gaap.notify)
    messenger.template_id(Kind.VERIFY_EMAIL)
    fake.fail_next = [grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.UNAVAILABLE]
    messenger.send(Kind.VERIFY_EMAIL, "ada@example.org", "en", {"code": "1", "minutes": "15"})
    attempts = fake.sent("SendEmail")
    assert len(attempts) == 3
    assert len({a.idempotency_key for a in attempts}) == 1
    assert attempts[0].idempotency_key


def test_a_rejected_token_is_renewed_once(
    notify: tuple[str, FakeNotify], client: tuple[GaapClient, TokenEndpoint]
) -> None:
    _, fake = notify
    gaap, endpoint = client
    messenger = NotifyMessenger(gaap.notify)
    messenger.template_id(Kind.VERIFY_EMAIL)
    fake.valid_tokens.discard("at_1")  # a key rotation at identity, say
    messenger.send(Kind.VERIFY_EMAIL, "ada@example.org", "en", {"code": "1", "minutes": "15"})
    assert len(endpoint.forms) == 2
    assert fake.tokens_seen[-1] == "Bearer at_2"


def test_refused_credentials_fail_the_send_with_a_token_error(
    notify: tuple[str, FakeNotify],
) -> None:
    target, fake = notify
    endpoint = TokenEndpoint(fake)
    gaap = notify_client(target, "identity-agency", "wrong", "https://i/t", endpoint, SCOPES)
    with gaap, pytest.raises(TokenError) as refused:
        NotifyMessenger(gaap.notify).send(Kind.VERIFY_EMAIL, "a@example.org", "en", {})
    assert refused.value.error == "invalid_client"
    assert fake.calls == []
