"""The browser's session with the console, kept server-side.

The cookie holds 32 random bytes; the store keys the session by their SHA-256,
so a copy of the table signs nobody in. A session lasts at most ``LIFETIME``
from sign-in, and signing in always starts a new one (no session fixation).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from services.console.domain.staff import Staff

LIFETIME = timedelta(hours=8)
PENDING_LIFETIME = timedelta(minutes=15)


class SignInFailed(Exception):
    """identity's answer did not sign anyone in; ``error`` is the OAuth code."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


@dataclass(frozen=True)
class SignedIn:
    """What identity established: the staff member and the ID token (for logout)."""

    staff: Staff
    id_token: str


@dataclass(frozen=True)
class BrowserSession:
    expires_at: datetime
    pending: dict[str, Any] = field(default_factory=dict)  # a sign-in under way
    staff: Staff | None = None
    id_token: str = ""

    def live(self, now: datetime) -> bool:
        return now < self.expires_at


def new_cookie() -> str:
    return secrets.token_urlsafe(32)


def session_key(cookie: str) -> str:
    return hashlib.sha256(cookie.encode()).hexdigest()


def well_formed(cookie: str) -> bool:
    return len(cookie) == 43 and cookie.replace("-", "").replace("_", "").isalnum()
