"""The demo app's unit of work on one SQLAlchemy session."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from services.demo_app.adapters.store import (
    Applications,
    BrowserSessions,
    KeptValues,
    WebhookEvents,
)
from services.runtime.sql_unit_of_work import SqlTransactions


class SqlDemoWork:
    def __init__(self, session: Session) -> None:
        self.applications = Applications(session)
        self.browser_sessions = BrowserSessions(session)
        self.webhook_events = WebhookEvents(session)
        self.kept = KeptValues(session)


def transactions(sessions: sessionmaker[Session]) -> SqlTransactions[SqlDemoWork]:
    return SqlTransactions(sessions, SqlDemoWork)
