"""Delivery-status callbacks: an agency's registration, a notification's status
change, and what the agency is sent about it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.notify.domain.notifications import Notification
from services.notify.domain.statuses import CREATED, FINAL

EVENT_TYPE = "notification.status"
# Sent only when the agency asks (SendTestStatusCallback): about no notification.
TEST_EVENT_TYPE = "callback.test"


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
        return f"{self.id}:{status_name(self.status)}"


@dataclass(frozen=True)
class Queued:
    """A callback put in the outbox (signed and sent after the transaction commits)."""

    delivery_id: str
    event_id: str
    event_type: str
    created_at: datetime


@dataclass(frozen=True)
class Outgoing:
    """A callback to queue for an agency, whatever it is about."""

    event_id: str
    event_type: str
    payload: dict[str, Any]


def test_callback(at: datetime) -> Outgoing:
    """A test callback: signed and sent like a status callback, about nothing."""
    event_id = "evt_" + uuid.uuid4().hex
    return Outgoing(
        event_id,
        TEST_EVENT_TYPE,
        {"type": TEST_EVENT_TYPE, "id": event_id, "created_at": _stamp(at)},
    )


def latest_callback(notification: Notification) -> Outgoing | None:
    """The callback of the notification's current status, as it was first sent
    (the same event id and body); None while it is ``created`` (nothing sent yet)."""
    if notification.status == CREATED:
        return None
    at = notification.completed_at if notification.status in FINAL else notification.sent_at
    change = StatusChange(
        notification.id,
        notification.tenant,
        notification.reference,
        notification.channel,
        notification.template_id,
        notification.template_version,
        notification.created_at,
        notification.status,
    )
    return Outgoing(change.event_id, EVENT_TYPE, payload(change, at or notification.created_at))


def _stamp(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def payload(change: StatusChange, at: datetime) -> dict[str, Any]:
    """What an agency receives: no recipient or content (they stay in notify)."""
    stamp = _stamp
    return {
        "type": EVENT_TYPE,
        "id": change.id,
        "reference": change.reference,
        "channel": channel_name(change.channel),
        "status": status_name(change.status),
        "template_id": change.template_id,
        "template_version": change.template_version,
        "created_at": stamp(change.created_at),
        "status_at": stamp(at),
    }


# A callback spells the status and channel as the JSON API does: the protobuf
# enum value names (STATUS_DELIVERED, CHANNEL_EMAIL), so an agency compares one
# spelling whether it read the notification over gRPC, JSON or a callback.


def status_name(status: str) -> str:
    """``"permanent-failure"`` -> ``"STATUS_PERMANENT_FAILURE"`` (``Status`` in the proto)."""
    return "STATUS_" + status.upper().replace("-", "_")


def channel_name(channel: str) -> str:
    """``"email"`` -> ``"CHANNEL_EMAIL"`` (``Channel`` in the proto)."""
    return "CHANNEL_" + channel.upper()
