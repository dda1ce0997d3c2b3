"""The SQL units of work of identity's token side (``TokenWork``, ``KeyWork``
in ``service_layer/token_ports.py``): repositories bound to one session."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from services.identity.adapters import audit_log
from services.identity.adapters.accounts import SqlAccountRepository
from services.identity.adapters.repositories import SqlKeyRepository
from services.identity.adapters.token_store import (
    SqlAuthorizationCodes,
    SqlUserTokens,
    SqlVerificationTickets,
)
from services.identity.domain.audit import AuditEvent, EventType
from services.runtime.sealing import Sealer
from services.runtime.sql_unit_of_work import SqlTransactions


class SqlAudit:
    """Audit events written in the unit of work's transaction."""

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
        return audit_log.record(
            self.session, type, at=at, account_id=account_id, client_id=client_id, ip=ip, **details
        )


class SqlTokenWork:
    def __init__(self, session: Session) -> None:
        self.authorization_codes = SqlAuthorizationCodes(session)
        self.user_tokens = SqlUserTokens(session)
        self.accounts = SqlAccountRepository(session)
        self.audit = SqlAudit(session)


class SqlKeyWork:
    def __init__(self, session: Session, sealer: Sealer | None = None) -> None:
        self.signing_keys = SqlKeyRepository(session, sealer)
        self.audit = SqlAudit(session)


def token_transactions(sessions: sessionmaker[Session]) -> SqlTransactions[SqlTokenWork]:
    return SqlTransactions(sessions, SqlTokenWork)


def key_transactions(
    sessions: sessionmaker[Session], sealer: Sealer | None = None
) -> SqlTransactions[SqlKeyWork]:
    """``sealer``: the key-encryption key's (default: the one on the sessions' info)."""
    return SqlTransactions(sessions, lambda session: SqlKeyWork(session, sealer))


class SqlTicketWork:
    def __init__(self, session: Session) -> None:
        self.verification_tickets = SqlVerificationTickets(session)
        self.audit = SqlAudit(session)


def ticket_transactions(sessions: sessionmaker[Session]) -> SqlTransactions[SqlTicketWork]:
    return SqlTransactions(sessions, SqlTicketWork)
