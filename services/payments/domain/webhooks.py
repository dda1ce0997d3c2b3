"""Agencies' webhook subscriptions and the deliveries made to them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

MAX_SUBSCRIPTIONS = 20  # active ones per agency


@dataclass(frozen=True)
class Subscription:
    id: str
    tenant: str
    url: str
    event_types: tuple[str, ...]
    created_at: datetime
    disabled_at: datetime | None

    def wants(self, event_type: str) -> bool:
        return self.disabled_at is None and (not self.event_types or event_type in self.event_types)


@dataclass(frozen=True)
class DeliveryAttempt:
    attempted_at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int


@dataclass(frozen=True)
class PastEvent:
    """What a delivery sent: enough to send the same event again."""

    subscription_id: str
    event_id: str
    event_type: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class Delivery:
    """One event sent (or still to be sent) to one subscription, with its attempts."""

    id: str
    event_id: str
    event_type: str
    state: str  # pending -> succeeded | failed (gave up)
    created_at: datetime
    next_attempt_at: datetime
    attempts: tuple[DeliveryAttempt, ...]
