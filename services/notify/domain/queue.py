"""The delivery queue's records: a notification claimed by a worker, and what
became of one attempt."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Claimed:
    id: str
    tenant: str
    mode: str
    channel: str
    recipient: str
    subject: str
    body: str
    personalisation: dict[str, Any]
    template_id: str
    template_version: int
    language: str
    reply_to: str
    attempts: int  # including this one
    first_due_at: datetime
    traceparent: str | None = None  # of the call that created it (tracing on)


@dataclass(frozen=True)
class Outcome:
    """What happened to one claimed notification."""

    id: str
    status: str | None = None  # a final status, or None
    provider: str | None = None
    provider_message_id: str | None = None
    retry_at: datetime | None = None  # retryable: claim again then
