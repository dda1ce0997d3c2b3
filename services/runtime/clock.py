"""The time as rules and use cases read it: aware UTC, and the ``Clock`` type a
test replaces. Pure, so the domain and service layers can import it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)
