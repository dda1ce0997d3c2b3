"""Delivery-status callbacks: an agency's registration, a notification's status
change, and what the agency is sent about it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

EVENT_TYPE = "notification.status"


@dataclass(frozen=True)
class Callback:
    url: str
    created_at: datetime
    signing_secret: str = ""  # only when just created


@dataclass(frozen=True)
class StatusChange:
    """A notification that has just taken ``status``: what its callback says."""

    id: str
    tenant: str
    reference: str
    channel: str
    template_id: str
    template_version: int
    created_at: datetime
    status: str

    @property
    def event_id(self) -> str:
        return f"{self.id}:{self.status}"


def payload(change: StatusChange, at: datetime) -> dict[str, Any]:
    """What an agency receives: no recipient or content (they stay in notify)."""

    def stamp(value: datetime | None) -> str | None:
        return value.isoformat().replace("+00:00", "Z") if value is not None else None

    return {
        "id": change.id,
        "reference": change.reference,
        "channel": change.channel,
        "status": change.status,
        "template_id": change.template_id,
        "template_version": change.template_version,
        "created_at": stamp(change.created_at),
        "status_at": stamp(at),
    }
