"""Channels and the status machine of a notification."""

from __future__ import annotations

from typing import Final, Literal

Channel = Literal["email", "sms"]
CHANNELS: Final = ("email", "sms")

CREATED: Final = "created"
SENDING: Final = "sending"
DELIVERED: Final = "delivered"
PERMANENT_FAILURE: Final = "permanent-failure"
TEMPORARY_FAILURE: Final = "temporary-failure"
TECHNICAL_FAILURE: Final = "technical-failure"
CANCELLED: Final = "cancelled"

STATUSES: Final = (
    CREATED,
    SENDING,
    DELIVERED,
    PERMANENT_FAILURE,
    TEMPORARY_FAILURE,
    TECHNICAL_FAILURE,
    CANCELLED,
)
# Once here, a notification never changes status again (updates are conditional on this).
FINAL: Final = frozenset(
    {DELIVERED, PERMANENT_FAILURE, TEMPORARY_FAILURE, TECHNICAL_FAILURE, CANCELLED}
)
FAILURES: Final = frozenset({PERMANENT_FAILURE, TEMPORARY_FAILURE, TECHNICAL_FAILURE})
# What a provider's delivery receipt may report.
RECEIPT_STATUSES: Final = frozenset({DELIVERED, PERMANENT_FAILURE, TEMPORARY_FAILURE})
