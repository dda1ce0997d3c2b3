"""Acting for a team's agency at payments and notify.

A page that shows or changes a team's payments, templates or messages asks
``ActingFor.connect`` for a client: the staff member must be allowed the action
in that team (``access.authorise``: ``NotFound`` outside it, ``PermissionDenied``
for the role), and the client's calls then carry a token for the team's agency
with the action's scopes only (``domain.agency_scopes``), which identity issues
to the console by token exchange with the console as its actor. payments and
notify apply the agency's own tenant, mode and scopes to those calls.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Generic, Protocol, TypeVar

from services.console.domain.agency_scopes import scopes_for
from services.console.domain.roles import Action
from services.console.domain.staff import Staff
from services.console.service_layer.access import authorise
from services.console.service_layer.ports import ConsoleTransactions

Client_co = TypeVar("Client_co", covariant=True)


class AgencyCalls(Protocol[Client_co]):
    """payments and notify as one agency (adapters/agency_calls.py: a ``GaapClient``
    on tokens from identity's token exchange; tests/fakes/console_acting.py)."""

    def connect(self, agency_id: str, scopes: tuple[str, ...]) -> AbstractContextManager[Client_co]:
        """A client whose calls are ``agency_id``'s with ``scopes``, closed on exit."""
        ...


class ActingFor(Generic[Client_co]):
    """Covariant in its client: a use case may ask for the slice of ``GaapClient``
    it calls (and its tests fake that slice)."""

    def __init__(self, transactions: ConsoleTransactions, calls: AgencyCalls[Client_co]) -> None:
        self._uow = transactions
        self._calls = calls

    @property
    def transactions(self) -> ConsoleTransactions:
        """The console's unit of work, for a page's use case that records what it
        changed at a service in the team's audit trail."""
        return self._uow

    @property
    def agency_calls(self) -> AgencyCalls[Client_co]:
        """The calls without a staff member, for the one use case that acts on the
        console's own authority (payment links' public page, which asks for
        ``payments:create`` alone and checks the link itself)."""
        return self._calls

    def connect(
        self, staff: Staff, team_id: str, action: Action
    ) -> AbstractContextManager[Client_co]:
        """The team's agency's client for ``action``, once ``staff`` may do it."""
        scopes = scopes_for(action)
        with self._uow.read() as uow:
            access = authorise(uow, staff, team_id, action)
        return self._calls.connect(access.team.agency_id, scopes)
