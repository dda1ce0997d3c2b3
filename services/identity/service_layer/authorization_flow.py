"""The authorization code issued at the end of a sign-in: the pending request is
finished and the code written in one transaction, so two tabs finishing the same
request get one code between them (the other finds it gone).

Runs on worker threads (the database).
"""

from __future__ import annotations

from typing import Protocol

from sqlalchemy.orm import Session, sessionmaker

from services.identity.adapters.token_store import SqlAuthorizationCodes
from services.identity.domain.authorization import AuthorizationRequest
from services.identity.service_layer.citizen_tokens import CitizenTokens
from services.identity.service_layer.signin import BrowserSession
from services.runtime.db import transaction


class PendingRequests(Protocol):
    def finish(self, session: Session, pending_id: str) -> bool:
        """Delete the pending request; False if it was already gone."""
        ...


class CodeIssuer:
    def __init__(
        self, sessions: sessionmaker[Session], pending: PendingRequests, tokens: CitizenTokens
    ) -> None:
        self._sessions = sessions
        self._pending = pending
        self._tokens = tokens

    def issue(
        self, pending_id: str, request: AuthorizationRequest, session: BrowserSession
    ) -> str | None:
        """The code for ``request``, signed in as ``session``; None when the
        pending request is gone (another tab finished it, or it was purged)."""
        with transaction(self._sessions) as db:
            if not self._pending.finish(db, pending_id):
                return None
            return self._tokens.create_code(
                SqlAuthorizationCodes(db),  # uow.authorization_codes once on the unit of work
                request,
                account_id=session.account_id,
                sid=session.sid,
                acr=session.acr,
                amr=list(session.amr),
                auth_time=session.auth_time,
            )
