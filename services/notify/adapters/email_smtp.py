"""Email over SMTP (aiosmtplib), with a small pool of open connections.

Replies: 2xx accepted (notify counts it delivered: SMTP has no receipts); 4xx
and connection trouble are retryable; 5xx for the recipient (550, 551, 553) is a
permanent failure; any other 5xx is final too (technical failure).
"""

from __future__ import annotations

import asyncio
import binascii
import contextlib
import secrets
from email.message import EmailMessage as MimeMessage
from email.utils import formatdate, make_msgid, parseaddr

import aiosmtplib

from services.notify.domain.providers import (
    Accepted,
    EmailMessage,
    RejectedError,
    RetryableError,
)
from services.notify.domain.statuses import PERMANENT_FAILURE, TECHNICAL_FAILURE

_RECIPIENT_CODES = frozenset({550, 551, 553})


def mime(message: EmailMessage, sender: str, message_id: str) -> MimeMessage:
    mail = MimeMessage()
    mail["From"] = sender
    mail["To"] = message.to
    mail["Subject"] = message.subject
    mail["Date"] = formatdate(usegmt=True)
    mail["Message-ID"] = message_id
    if message.reply_to:
        mail["Reply-To"] = message.reply_to
    mail["X-GaaP-Notification-Id"] = message.notification_id
    mail.set_content(message.text)
    mail.add_alternative(message.html, subtype="html")
    return mail


MAX_PLAIN_HEADER = 900  # longer header values take the email package's folding


def _plain(value: str) -> bool:
    """A header value that needs no encoding or folding: short printable ASCII."""
    return len(value) <= MAX_PLAIN_HEADER and value.isascii() and value.isprintable()


def _qp(text: str) -> bytes:
    """A text part's body, quoted-printable with CRLF line ends (readable in var/mail)."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return b"\r\n".join(binascii.b2a_qp(line.encode(), istext=True) for line in lines)


def fast_mime(message: EmailMessage, sender: str, message_id: str) -> bytes | None:
    """The same multipart/alternative message as ``mime`` as bytes, built directly.

    ``mime`` builds it with the email package, whose header parsing and folding
    cost more than everything else a send does. Here headers are written as they
    are when they are short printable ASCII (None otherwise: use ``mime``), and
    both parts are UTF-8 quoted-printable, which needs neither SMTPUTF8 nor 8BITMIME.
    """
    headers = [
        ("From", sender),
        ("To", message.to),
        ("Subject", message.subject),
        ("Reply-To", message.reply_to),
        ("X-GaaP-Notification-Id", message.notification_id),
    ]
    if not all(_plain(value) for _, value in headers):
        return None
    boundary = f"=_gaap_{secrets.token_hex(16)}"
    lines = [
        f"From: {sender}",
        f"To: {message.to}",
        f"Subject: {message.subject}",
        f"Date: {formatdate(usegmt=True)}",
        f"Message-ID: {message_id}",
    ]
    if message.reply_to:
        lines.append(f"Reply-To: {message.reply_to}")
    lines += [
        f"X-GaaP-Notification-Id: {message.notification_id}",
        "MIME-Version: 1.0",
        f'Content-Type: multipart/alternative; boundary="{boundary}"',
        "",
    ]
    head = "\r\n".join(lines).encode()
    part = (
        '\r\n--{b}\r\nContent-Type: text/{kind}; charset="utf-8"\r\n'
        "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
    )
    return b"".join(
        (
            head,
            part.format(b=boundary, kind="plain").encode(),
            _qp(message.text),
            part.format(b=boundary, kind="html").encode(),
            _qp(message.html),
            f"\r\n--{boundary}--\r\n".encode(),
        )
    )


class SmtpEmailProvider:
    name = "smtp"

    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        *,
        username: str = "",
        password: str = "",
        starttls: bool = False,
        connections: int = 8,
        timeout: float = 30.0,
    ) -> None:
        self._host = host
        self._port = port
        self._sender = sender
        self._username = username
        self._password = password
        self._starttls = starttls
        self._timeout = timeout
        self._idle: list[aiosmtplib.SMTP] = []
        self._slots = asyncio.Semaphore(connections)
        self._domain = sender.rpartition("@")[2].rstrip(">") or "gaap.localhost"
        self._envelope_sender = parseaddr(sender)[1]

    async def _connect(self) -> aiosmtplib.SMTP:
        client = aiosmtplib.SMTP(
            hostname=self._host,
            port=self._port,
            timeout=self._timeout,
            start_tls=self._starttls,
            use_tls=False,
        )
        await client.connect()
        if self._username:
            await client.login(self._username, self._password)
        return client

    async def send_email(self, *, message: EmailMessage) -> Accepted:
        message_id = make_msgid(idstring=message.notification_id, domain=self._domain)
        raw = fast_mime(message, self._sender, message_id)
        mail = mime(message, self._sender, message_id) if raw is None else None
        async with self._slots:
            client = self._idle.pop() if self._idle else None
            try:
                if client is None or not client.is_connected:
                    client = await self._connect()
                if mail is not None:
                    await client.send_message(mail)
                else:
                    await client.sendmail(self._envelope_sender, [message.to], raw or b"")
            except aiosmtplib.SMTPRecipientsRefused as exc:
                self._keep(client)
                codes = [r.code for r in exc.recipients]
                if any(400 <= c < 500 for c in codes):
                    raise RetryableError(f"recipient deferred ({codes})") from None
                status = PERMANENT_FAILURE if set(codes) & _RECIPIENT_CODES else TECHNICAL_FAILURE
                raise RejectedError(f"recipient refused ({codes})", status) from None
            except aiosmtplib.SMTPResponseException as exc:
                self._keep(client)
                if 400 <= exc.code < 500:
                    raise RetryableError(f"SMTP {exc.code}") from None
                raise RejectedError(f"SMTP {exc.code}", TECHNICAL_FAILURE) from None
            except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
                await self._discard(client)
                raise RetryableError(type(exc).__name__) from None
            self._keep(client)
        return Accepted(self.name, message_id.strip("<>"), delivered=True)

    def _keep(self, client: aiosmtplib.SMTP | None) -> None:
        if client is not None and client.is_connected:
            self._idle.append(client)

    async def _discard(self, client: aiosmtplib.SMTP | None) -> None:
        if client is not None:
            with contextlib.suppress(Exception):
                client.close()

    async def close(self) -> None:
        while self._idle:
            client = self._idle.pop()
            with contextlib.suppress(Exception):
                await client.quit()
