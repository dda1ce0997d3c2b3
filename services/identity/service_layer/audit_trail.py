"""Audit events stamped with where the attempt came from (client address and
agency), for the sign-in and the citizen-account services alike."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from services.identity.adapters import audit_log
from services.identity.domain.audit import EventType
from services.runtime.db import transaction
from services.runtime.db_types import utcnow


@dataclass(frozen=True)
class Where:
    """Where an attempt came from, for audit events."""

    ip: str | None = None
    client_id: str | None = None


class AuditTrail:
    def __init__(
        self, sessions: sessionmaker[Session], clock: Callable[[], datetime] = utcnow
    ) -> None:
        self._sessions = sessions
        self._clock = clock

    def now(self) -> datetime:
        return self._clock()

    def audit(
        self, type: EventType, where: Where, account_id: str | None = None, **details: object
    ) -> None:
        """An audit event in a transaction of its own."""
        with transaction(self._sessions) as session:
            self.record(session, type, where, account_id, **details)

    def record(
        self,
        session: Session,
        type: EventType,
        where: Where,
        account_id: str | None = None,
        **details: object,
    ) -> None:
        """An audit event in ``session``'s transaction, so it commits with the change."""
        audit_log.record(
            session,
            type,
            at=self._clock(),
            account_id=account_id,
            client_id=where.client_id,
            ip=where.ip,
            **details,
        )
