"""The console's unit of work on one SQLAlchemy session."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from services.console.adapters.bulk_upload_store import BulkUploads
from services.console.adapters.go_live_store import GoLiveRequests
from services.console.adapters.invitation_store import AuditTrail, Invitations
from services.console.adapters.payment_link_store import PaymentLinks
from services.console.adapters.session_store import BrowserSessions
from services.console.adapters.team_store import Members, Teams
from services.runtime.sql_unit_of_work import SqlTransactions


class SqlConsoleWork:
    def __init__(self, session: Session) -> None:
        self.teams = Teams(session)
        self.members = Members(session)
        self.invitations = Invitations(session)
        self.audit = AuditTrail(session)
        self.sessions = BrowserSessions(session)
        self.payment_links = PaymentLinks(session)
        self.bulk_uploads = BulkUploads(session)
        self.go_live = GoLiveRequests(session)


def transactions(sessions: sessionmaker[Session]) -> SqlTransactions[SqlConsoleWork]:
    return SqlTransactions(sessions, SqlConsoleWork)
