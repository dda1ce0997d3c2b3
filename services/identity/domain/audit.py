"""Security events: what happened, to which account, from where, for which agency.

Never a password, code or token: ``details`` holds only facts such as a reason
or a method name.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class EventType(StrEnum):
    REGISTERED = "account.registered"
    SIGN_IN_SUCCEEDED = "sign_in.succeeded"
    SIGN_IN_FAILED = "sign_in.failed"
    SECOND_FACTOR_FAILED = "second_factor.failed"
    ACCOUNT_LOCKED = "account.locked"
    ACCOUNT_UNLOCKED = "account.unlocked"
    FACTOR_ADDED = "factor.added"
    FACTOR_REMOVED = "factor.removed"
    PASSWORD_CHANGED = "password.changed"
    PASSWORD_RESET = "password.reset"
    CONSENT_GRANTED = "consent.granted"
    CONSENT_WITHDRAWN = "consent.withdrawn"
    SIGNED_OUT = "signed_out"
    CODE_REUSED = "authorization_code.reused"
    REFRESH_REUSED = "refresh_token.reused"
    TOKEN_REVOKED = "token.revoked"
    KEYS_ROTATED = "keys.rotated"
    AGENCY_CREATED = "agency.created"
    AGENCY_UPDATED = "agency.updated"
    AGENCY_DISABLED = "agency.disabled"
    AGENCY_SECRET_ROTATED = "agency.secret_rotated"
    AGENCY_SECRET_REVOKED = "agency.secret_revoked"
    AGENCY_KEYS_REPLACED = "agency.keys_replaced"
    AGENCY_MODE_CHANGED = "agency.mode_changed"
    # citizen accounts (issue 4)
    REGISTRATION_STARTED = "registration.started"
    CODE_SENT = "code.sent"
    CODE_REFUSED = "code.refused"
    EMAIL_VERIFIED = "email.verified"
    PASSWORD_RESET_REQUESTED = "password.reset_requested"
    PASSWORD_CHANGE_FAILED = "password.change_failed"
    RECOVERY_CODE_USED = "recovery_code.used"
    RECOVERY_CODE_FAILED = "recovery_code.failed"
    RECOVERY_CODES_ISSUED = "recovery_codes.issued"
    SIGNED_OUT_EVERYWHERE = "signed_out.everywhere"
    NEW_DEVICE = "sign_in.new_device"
    THROTTLED = "throttled"


@dataclass(frozen=True)
class AuditEvent:
    id: str
    at: datetime
    type: EventType
    account_id: str | None = None
    client_id: str | None = None
    ip: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AuditFilter:
    """Which events an operator asks for (every field optional)."""

    types: Sequence[str] = ()
    account_id: str | None = None
    client_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def cursor(event: AuditEvent) -> str:
    """The page token after ``event``: its (time, id)."""
    return f"{event.at.isoformat()}|{event.id}"
