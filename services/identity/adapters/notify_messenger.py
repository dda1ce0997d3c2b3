"""Messages through notify over gRPC: identity is an agency of the platform with
its own client credentials. Each message kind is a notify template holding both
languages; identity creates it once (found again by name, so replicas and
restarts reuse it) and sends with the values as personalisation."""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import grpc
from gaap.notify.v1 import notify_pb2, notify_pb2_grpc

from services.identity.domain import messages
from services.identity.domain.messages import Kind

TokenSource = Callable[[], str]
CHANNELS = {"email": notify_pb2.CHANNEL_EMAIL, "sms": notify_pb2.CHANNEL_SMS}


def template_name(kind: Kind) -> str:
    """The name carries a digest of the text: new wording makes a new template."""
    texts = messages.TEMPLATES[kind]
    digest = hashlib.sha256(
        "\0".join(f"{lang}\0{t.subject}\0{t.body}" for lang, t in sorted(texts.items())).encode()
    ).hexdigest()[:12]
    return f"identity.{kind.value}.{digest}"


class NotifyMessenger:
    can_send_sms = True

    def __init__(self, channel: grpc.Channel, token: TokenSource, timeout: float = 10.0) -> None:
        self._stub = notify_pb2_grpc.NotifyServiceStub(channel)
        self._token = token
        self._timeout = timeout
        self._templates: dict[Kind, str] = {}
        self._lock = threading.Lock()

    def _metadata(self) -> tuple[tuple[str, str], ...]:
        return (("authorization", f"Bearer {self._token()}"),)

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
                notify_pb2.ListTemplatesRequest(page_size=100, page_token=token),
                metadata=self._metadata(),
                timeout=self._timeout,
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
            ),
            metadata=self._metadata(),
            timeout=self._timeout,
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
                ),
                metadata=self._metadata(),
                timeout=self._timeout,
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
                ),
                metadata=self._metadata(),
                timeout=self._timeout,
            )


class ClientCredentialsToken:
    """A client-credentials access token, fetched when needed and reused until
    shortly before it expires. ``grant`` returns the token endpoint's
    (status, body, headers)."""

    def __init__(
        self,
        grant: Callable[[], tuple[int, Any, Any]],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._grant = grant
        self._clock = clock
        self._token = ""
        self._expires = 0.0
        self._lock = threading.Lock()

    def __call__(self) -> str:
        with self._lock:
            now = self._clock()
            if not self._token or now >= self._expires - 30:
                status, body, _ = self._grant()
                if status != 200 or not isinstance(body, dict):
                    raise PermissionError("identity's notify credentials were refused")
                self._token = str(body["access_token"])
                self._expires = now + float(body.get("expires_in", 60))
            return self._token
