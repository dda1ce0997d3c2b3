"""Audit events stamped with where the attempt came from (client address and
agency), for the sign-in and the citizen-account services alike."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from services.identity.domain.audit import EventType
from services.runtime.clock import Clock, utcnow

if TYPE_CHECKING:  # the unit of work's ports (code_tickets.py) name ``Where`` themselves
    from services.identity.service_layer.unit_of_work import IdentityTransactions, IdentityWork


@dataclass(frozen=True)
class Where:
    """Where an attempt came from, for audit events."""

    ip: str | None = None
    client_id: str | None = None


class AuditTrail:
    def __init__(self, uow: IdentityTransactions, clock: Clock = utcnow) -> None:
        self._uow = uow
        self._clock = clock

    def now(self) -> datetime:
        return self._clock()

    def audit(
        self, type: EventType, where: Where, account_id: str | None = None, **details: object
    ) -> None:
        """An audit event in a unit of work of its own."""
        with self._uow() as uow:
            self.record(uow, type, where, account_id, **details)

    def record(
        self,
        uow: IdentityWork,
        type: EventType,
        where: Where,
        account_id: str | None = None,
        **details: object,
    ) -> None:
        """An audit event in ``uow``'s transaction, so it commits with the change."""
        uow.audit.record(
            type,
            at=self._clock(),
            account_id=account_id,
            client_id=where.client_id,
            ip=where.ip,
            **details,
        )
