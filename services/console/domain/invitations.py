"""Invitations to join a team, by email address.

The link carries a random token; only its SHA-256 is stored, so the table alone
cannot be used to join a team. An invitation is good for 7 days, once, and only
for a staff member whose verified email address (as identity reports it) is the
one invited.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from services.console.domain.roles import Role
from services.runtime.errors import FieldViolation, InvalidArgument

LIFETIME = timedelta(days=7)
MAX_EMAIL = 254
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True)
class Invitation:
    id: str
    team_id: str
    email: str
    role: Role
    refunder: bool
    token_hash: str
    invited_by: str  # the inviter's email
    created_at: datetime
    expires_at: datetime
    accepted_at: datetime | None = None

    def pending(self, now: datetime) -> bool:
        return self.accepted_at is None and now < self.expires_at


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_matches(invitation: Invitation, token: str) -> bool:
    return hmac.compare_digest(invitation.token_hash, hash_token(token))


def check_email(raw: str) -> str:
    email = raw.strip().lower()
    if not email:
        raise InvalidArgument("email", [FieldViolation("email", "Enter an email address")])
    if len(email) > MAX_EMAIL or not _EMAIL.match(email) or not email.isascii():
        raise InvalidArgument(
            "email", [FieldViolation("email", "Enter an email address like name@example.com")]
        )
    return email


def expires(now: datetime) -> datetime:
    return now + LIFETIME
