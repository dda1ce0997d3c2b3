"""An authorization request in progress, between /authorize and the redirect back."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from services.identity.domain.authorization import AuthorizationRequest


@dataclass(frozen=True)
class Pending:
    id: str
    request: AuthorizationRequest
    browser: str  # a hash of the browser's id: the request is bound to it
    signed_in_at: datetime | None = None
    consented_sid: str | None = None  # the session whose account agreed on the page
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StoredPending:
    pending: Pending
    expires_at: datetime
