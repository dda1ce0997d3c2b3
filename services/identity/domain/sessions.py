"""A citizen's browser session, as the sign-in keeps it (the cookie's value is
stored only as a hash)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class BrowserSession:
    sid: str
    account_id: str
    auth_time: datetime
    acr: str
    amr: tuple[str, ...]


@dataclass(frozen=True)
class StoredSession:
    """A live session as stored: what ``BrowserSession`` shows, and the times
    its idle and absolute timeouts run from."""

    session: BrowserSession
    created_at: datetime
    last_seen_at: datetime
