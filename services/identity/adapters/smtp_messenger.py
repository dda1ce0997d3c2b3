"""Messages by plain SMTP (aiosmtplib), for deployments without notify. Sends
email only: SMS kinds need notify."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import make_msgid

import aiosmtplib

from services.identity.domain import messages
from services.identity.domain.messages import Kind


class SmsUnavailable(RuntimeError):
    """This adapter cannot send text messages."""


class SmtpMessenger:
    can_send_sms = False

    def __init__(
        self,
        *,
        host: str,
        port: int,
        sender: str,
        username: str = "",
        password: str = "",
        starttls: bool = False,
        timeout: float = 10.0,
    ) -> None:
        self._host = host
        self._port = port
        self._sender = sender
        self._username = username or None
        self._password = password or None
        self._starttls = starttls
        self._timeout = timeout

    def send(self, kind: Kind, to: str, language: str, values: Mapping[str, str]) -> None:
        if kind in messages.SMS_KINDS:
            raise SmsUnavailable(kind)
        text = messages.render(kind, language, values)
        message = EmailMessage()
        message["From"] = self._sender
        message["To"] = to
        message["Subject"] = text.subject
        message["Message-ID"] = make_msgid(domain=self._sender.rpartition("@")[2] or None)
        message["Content-Language"] = messages.language_of(language)
        message.set_content(text.body)
        # Called on a worker thread: a short event loop of its own.
        asyncio.run(
            aiosmtplib.send(
                message,
                hostname=self._host,
                port=self._port,
                username=self._username,
                password=self._password,
                start_tls=self._starttls,
                timeout=self._timeout,
            )
        )
