"""Messages through notify over gRPC, with gaap_client: identity is an agency of
the platform with its own client credentials, and calls notify as any agency
does (cached token, deadline, idempotency keys, gRPC's retries, typed errors).
Each message kind is a notify template holding both languages; identity creates
it once (found again by name, so replicas and restarts reuse it) and sends with
the values as personalisation."""

from __future__ import annotations

import hashlib
import threading
import uuid
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl

import httpx
from gaap.notify.v1 import notify_pb2, notify_pb2_grpc

from gaap_client import ClientSecret, GaapClient, Targets, TokenSource
from services.identity.domain import messages
from services.identity.domain.messages import Kind

CHANNELS = {"email": notify_pb2.CHANNEL_EMAIL, "sms": notify_pb2.CHANNEL_SMS}
# identity's token endpoint called in-process: (form, headers) -> (status, body, headers).
TokenEndpoint = Callable[[dict[str, str], Mapping[str, str]], tuple[int, Any, Any]]


def template_name(kind: Kind) -> str:
    """The name carries a digest of the text: new wording makes a new template."""
    texts = messages.TEMPLATES[kind]
    digest = hashlib.sha256(
        "\0".join(f"{lang}\0{t.subject}\0{t.body}" for lang, t in sorted(texts.items())).encode()
    ).hexdigest()[:12]
    return f"identity.{kind.value}.{digest}"


class NotifyMessenger:
    """Sends through ``notify``, a gaap_client stub (``GaapClient.notify``)."""

    can_send_sms = True

    def __init__(self, notify: notify_pb2_grpc.NotifyServiceStub) -> None:
        self._stub = notify
        self._templates: dict[Kind, str] = {}
        self._lock = threading.Lock()

    def template_id(self, kind: Kind) -> str:
        with self._lock:
            if kind not in self._templates:
                self._templates[kind] = self._find_or_create(kind)
            return self._templates[kind]

    def _find_or_create(self, kind: Kind) -> str:
        name = template_name(kind)
        token = ""
        while True:
            page = self._stub.ListTemplates(
                notify_pb2.ListTemplatesRequest(page_size=100, page_token=token)
            )
            for template in page.templates:
                if template.name == name:
                    return str(template.id)
            token = page.next_page_token
            if not token:
                break
        channel = "sms" if kind in messages.SMS_KINDS else "email"
        created = self._stub.CreateTemplate(
            notify_pb2.CreateTemplateRequest(
                channel=CHANNELS[channel],
                name=name,
                contents=[
                    notify_pb2.TemplateContent(language=lang, subject=t.subject, body=t.body)
                    for lang, t in messages.TEMPLATES[kind].items()
                ],
                idempotency_key=name,
            )
        )
        return str(created.id)

    def send(self, kind: Kind, to: str, language: str, values: Mapping[str, str]) -> None:
        personalisation = {k: notify_pb2.PersonalisationValue(text=v) for k, v in values.items()}
        template_id = self.template_id(kind)
        reference = f"identity:{kind.value}"
        lang = messages.language_of(language)
        key = uuid.uuid4().hex
        if kind in messages.SMS_KINDS:
            self._stub.SendSms(
                notify_pb2.SendSmsRequest(
                    template_id=template_id,
                    phone_number=to,
                    personalisation=personalisation,
                    reference=reference,
                    language=lang,
                    idempotency_key=key,
                )
            )
        else:
            self._stub.SendEmail(
                notify_pb2.SendEmailRequest(
                    template_id=template_id,
                    email_address=to,
                    personalisation=personalisation,
                    reference=reference,
                    language=lang,
                    idempotency_key=key,
                )
            )


class InProcessTokenEndpoint(httpx.BaseTransport):
    """identity is its own authorization server: gaap_client's token requests go
    to the token endpoint's code path, without a round trip over HTTP to itself."""

    def __init__(self, token_endpoint: TokenEndpoint) -> None:
        self._token_endpoint = token_endpoint

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        form = dict(parse_qsl(request.read().decode()))
        status, body, headers = self._token_endpoint(form, request.headers)
        return httpx.Response(status, json=body, headers=list(headers or ()))


def notify_client(
    target: str,
    client_id: str,
    client_secret: str,
    token_url: str,
    token_endpoint: TokenEndpoint,
    scopes: str,
) -> GaapClient:
    """identity's client of notify at ``target``, with tokens from its own endpoint."""
    tokens = TokenSource(
        token_url,
        ClientSecret(client_id, client_secret),
        scopes=scopes.split(),
        http=httpx.Client(transport=InProcessTokenEndpoint(token_endpoint)),
    )
    return GaapClient(tokens, Targets(notify=target))
