"""identity's unit of work: one transaction's repositories (``IdentityWork``).

Use cases open one with ``with self._uow() as uow:`` (``Transactions``) and
speak only to its attributes, which are ports (Protocols in
``account_ports.py``, ``token_ports.py`` and ``code_tickets.py``). The SQL
implementation is ``adapters/unit_of_work.py`` (wired by ``bootstrap.py``); the
unit tests use the in-memory fakes of ``tests/fakes/identity.py``. A use case
that needs only part of it may ask for a narrower Protocol (``TokenWork``,
``TicketWork``): every ``IdentityWork`` is one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from services.identity.service_layer.account_ports import (
    AccountRepository,
    AgencyRepository,
    AuditLog,
    BrowserSessionStore,
    ConsentRepository,
    KnownDevices,
    LogoutOutbox,
    PendingAuthorizations,
    PushedAuthorizationRequests,
    RecoveryCodes,
    SigninFailures,
    ThrottleCounters,
)
from services.identity.service_layer.token_ports import (
    AssertionLedger,
    AuthorizationCodeStore,
    SigningKeyStore,
    UserTokenStore,
    VerificationTicketStore,
)
from services.runtime.idempotency import IdempotencyStore
from services.runtime.unit_of_work import Transactions


class IdentityWork(Protocol):
    """One transaction's view of identity's data."""

    # -- accounts and sign-in ----------------------------------------------------
    @property
    def accounts(self) -> AccountRepository: ...

    @property
    def browser_sessions(self) -> BrowserSessionStore: ...

    @property
    def signin_failures(self) -> SigninFailures: ...

    @property
    def throttle_counters(self) -> ThrottleCounters: ...

    @property
    def known_devices(self) -> KnownDevices: ...

    @property
    def recovery_codes(self) -> RecoveryCodes: ...

    @property
    def verification_tickets(self) -> VerificationTicketStore: ...

    @property
    def consents(self) -> ConsentRepository: ...

    @property
    def pending(self) -> PendingAuthorizations: ...

    @property
    def pushed_requests(self) -> PushedAuthorizationRequests: ...

    @property
    def logout_outbox(self) -> LogoutOutbox: ...

    # -- agencies and the audit log ----------------------------------------------
    @property
    def agencies(self) -> AgencyRepository: ...

    @property
    def audit(self) -> AuditLog: ...

    @property
    def idempotency(self) -> IdempotencyStore: ...

    # -- tokens and keys -----------------------------------------------------------
    @property
    def authorization_codes(self) -> AuthorizationCodeStore: ...

    @property
    def user_tokens(self) -> UserTokenStore: ...

    @property
    def signing_keys(self) -> SigningKeyStore: ...

    @property
    def assertions(self) -> AssertionLedger: ...

    # -- the transaction itself -------------------------------------------------------
    def on_commit(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` once this unit of work has committed (never on a
        rollback): an email or a wake-up that must not go out for a change
        that did not happen."""
        ...

    def lock(self, name: str) -> None:
        """Take turns with other replicas on ``name`` until the transaction ends."""
        ...


IdentityTransactions = Transactions[IdentityWork]
