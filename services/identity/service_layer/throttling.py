"""Throttling per account and per client address, counted in identity's
database so every replica sees the same counts. Each refusal is an audit event."""

from __future__ import annotations

from datetime import timedelta

from services.identity.domain.audit import EventType
from services.identity.domain.throttle import Rule
from services.identity.service_layer.unit_of_work import IdentityTransactions
from services.runtime.clock import Clock, utcnow


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
    def __init__(self, uow: IdentityTransactions, clock: Clock = utcnow) -> None:
        self._uow = uow
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
        with self._uow() as uow:
            count = uow.throttle_counters.increment(
                rule.key(subject), start, start + rule.window * 2
            )
            if count > rule.limit:
                uow.audit.record(
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
        with self._uow() as uow:
            return uow.throttle_counters.purge(self._clock())
