"""Throttling rules: at most ``limit`` events per key in a fixed window.

Counters live wherever the service keeps them (identity: its database, so every
replica counts together); the rules and the window arithmetic are here.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta


@dataclass(frozen=True)
class Rule:
    name: str
    limit: int
    window: timedelta

    def window_start(self, now: datetime) -> datetime:
        seconds = int(self.window.total_seconds())
        epoch = int(now.timestamp())
        return datetime.fromtimestamp(epoch - epoch % seconds, tz=UTC)

    def retry_after(self, now: datetime) -> timedelta:
        return self.window_start(now) + self.window - now

    def key(self, subject: str) -> str:
        """Counter key; the subject (an address, an email) is hashed, so the
        counters hold no personal data."""
        return f"{self.name}:{hashlib.sha256(subject.encode()).hexdigest()[:32]}"
