"""The authorization code issued at the end of a sign-in: the pending request is
deleted and the code written in one unit of work, so two tabs finishing the same
request get one code between them (the other finds it gone).

Runs on worker threads (the database).
"""

from __future__ import annotations

from typing import Protocol

from services.identity.domain.authorization import AuthorizationRequest
from services.identity.service_layer.citizen_tokens import CitizenTokens
from services.identity.service_layer.signin import BrowserSession
from services.identity.service_layer.token_ports import AuthorizationCodeStore
from services.runtime.unit_of_work import Transactions


class PendingDeletes(Protocol):
    def delete(self, pending_id: str) -> bool:
        """Delete the pending request; False if it was already gone."""
        ...


class CodeWork(Protocol):
    """What issuing a code uses of identity's unit of work."""

    @property
    def pending(self) -> PendingDeletes: ...

    @property
    def authorization_codes(self) -> AuthorizationCodeStore: ...


class CodeIssuer:
    def __init__(self, uow: Transactions[CodeWork], tokens: CitizenTokens) -> None:
        self._uow = uow
        self._tokens = tokens

    def issue(
        self, pending_id: str, request: AuthorizationRequest, session: BrowserSession
    ) -> str | None:
        """The code for ``request``, signed in as ``session``; None when the
        pending request is gone (another tab finished it, or it was purged)."""
        with self._uow() as uow:
            if not uow.pending.delete(pending_id):
                return None
            return self._tokens.create_code(
                uow.authorization_codes,
                request,
                account_id=session.account_id,
                sid=session.sid,
                acr=session.acr,
                amr=list(session.amr),
                auth_time=session.auth_time,
            )
