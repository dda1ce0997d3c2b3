"""Throttling per account and per client address, counted in identity's
database so every replica sees the same counts. Each refusal is an audit event."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from services.identity.adapters import audit_log, throttle_counters
from services.identity.domain.audit import EventType
from services.identity.domain.throttle import Rule
from services.runtime.db import transaction
from services.runtime.db_types import utcnow


class Throttled(Exception):
    """Too many attempts; ``retry_after`` says how long until the window ends."""

    def __init__(self, rule: str, retry_after: timedelta) -> None:
        super().__init__(rule)
        self.rule = rule
        self.retry_after = retry_after

    @property
    def minutes(self) -> int:
        return max(1, -(-int(self.retry_after.total_seconds()) // 60))


class Throttle:
    def __init__(
        self, sessions: sessionmaker[Session], clock: Callable[[], datetime] = utcnow
    ) -> None:
        self._sessions = sessions
        self._clock = clock

    def check(
        self,
        rule: Rule,
        subject: str,
        *,
        ip: str | None = None,
        client_id: str | None = None,
        account_id: str | None = None,
    ) -> None:
        """Count one event for ``subject`` under ``rule``; raise Throttled past the limit."""
        now = self._clock()
        start = rule.window_start(now)
        with transaction(self._sessions) as session:
            count = throttle_counters.increment(
                session, rule.key(subject), start, start + rule.window * 2
            )
            if count > rule.limit:
                audit_log.record(
                    session,
                    EventType.THROTTLED,
                    at=now,
                    account_id=account_id,
                    client_id=client_id,
                    ip=ip,
                    rule=rule.name,
                )
        if count > rule.limit:
            raise Throttled(rule.name, rule.retry_after(now))

    def purge(self) -> int:
        with transaction(self._sessions) as session:
            return throttle_counters.purge(session, self._clock())
