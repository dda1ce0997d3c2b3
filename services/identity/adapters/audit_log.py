"""Audit events in identity's database, written in the caller's transaction."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from services.identity.adapters.tables import audit_events
from services.identity.domain.audit import AuditEvent, AuditFilter, EventType, cursor

__all__ = ["AuditFilter", "SqlAuditLog", "cursor", "query", "record"]


def record(
    session: Session,
    type: EventType,
    *,
    at: datetime,
    account_id: str | None = None,
    client_id: str | None = None,
    ip: str | None = None,
    **details: Any,
) -> AuditEvent:
    event = AuditEvent(
        id="evt_" + uuid.uuid4().hex,
        at=at,
        type=type,
        account_id=account_id,
        client_id=client_id,
        ip=ip,
        details=details,
    )
    session.execute(
        audit_events.insert().values(
            id=event.id,
            at=event.at,
            type=str(event.type),
            account_id=account_id,
            client_id=client_id,
            ip=ip,
            details=details,
        )
    )
    return event


def query(
    session: Session, where: AuditFilter, *, after: str | None, limit: int
) -> list[AuditEvent]:
    """Newest first; ``after`` is the last (at, id) cursor of the previous page."""
    t = audit_events
    q = sa.select(t).order_by(t.c.at.desc(), t.c.id.desc()).limit(limit)
    if where.types:
        q = q.where(t.c.type.in_(list(where.types)))
    if where.account_id:
        q = q.where(t.c.account_id == where.account_id)
    if where.client_id:
        q = q.where(t.c.client_id == where.client_id)
    if where.since:
        q = q.where(t.c.at >= where.since)
    if where.until:
        q = q.where(t.c.at < where.until)
    if after:
        at_text, _, last_id = after.partition("|")
        last_at = datetime.fromisoformat(at_text)
        q = q.where(sa.or_(t.c.at < last_at, sa.and_(t.c.at == last_at, t.c.id < last_id)))
    return [
        AuditEvent(
            id=r.id,
            at=r.at,
            type=EventType(r.type),
            account_id=r.account_id,
            client_id=r.client_id,
            ip=r.ip,
            details=dict(r.details or {}),
        )
        for r in session.execute(q)
    ]


class SqlAuditLog:
    """``AuditLog`` on one session: events written in its transaction."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def record(
        self,
        type: EventType,
        *,
        at: datetime,
        account_id: str | None = None,
        client_id: str | None = None,
        ip: str | None = None,
        **details: Any,
    ) -> AuditEvent:
        return record(
            self.session, type, at=at, account_id=account_id, client_id=client_id, ip=ip, **details
        )

    def query(self, where: AuditFilter, *, after: str | None, limit: int) -> list[AuditEvent]:
        return query(self.session, where, after=after, limit=limit)
