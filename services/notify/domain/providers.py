"""What notify needs from a delivery provider (GOV.UK Notify's client shape).

A provider either accepts a message (and says with which id, and whether that
already means delivered) or raises: ``RetryableError`` (try again later, perhaps
with another provider) or ``RejectedError`` (final: the recipient does not exist,
or the message can never be sent).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from services.notify.domain.statuses import PERMANENT_FAILURE, TECHNICAL_FAILURE


class ProviderError(Exception):
    """Base class; the message is for logs (no personal data)."""


class RetryableError(ProviderError):
    """A network error, a timeout, a 4xx SMTP reply, an HTTP 429 or 5xx."""


class RejectedError(ProviderError):
    """Final: ``status`` is permanent-failure (bad recipient) or technical-failure."""

    def __init__(self, message: str, status: str = TECHNICAL_FAILURE) -> None:
        super().__init__(message)
        assert status in (PERMANENT_FAILURE, TECHNICAL_FAILURE)
        self.status = status


@dataclass(frozen=True)
class Accepted:
    provider: str
    message_id: str
    delivered: bool  # True: nothing more will come (SMTP); False: await a receipt


@dataclass(frozen=True)
class EmailMessage:
    notification_id: str
    to: str
    subject: str
    text: str
    html: str
    reply_to: str = ""


@dataclass(frozen=True)
class SmsMessage:
    notification_id: str
    to: str
    body: str


class EmailProvider(Protocol):
    name: str

    async def send_email(self, *, message: EmailMessage) -> Accepted: ...


class SmsProvider(Protocol):
    name: str

    async def send_sms(self, *, message: SmsMessage) -> Accepted: ...
