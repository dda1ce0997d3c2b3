"""identity's unit of work on SQLAlchemy (``IdentityWork``): one session's
repositories, built only when a use case first asks for them."""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property

from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from services.identity.adapters.account_factors import SqlKnownDevices, SqlRecoveryCodes
from services.identity.adapters.accounts import SqlAccountRepository
from services.identity.adapters.audit_log import SqlAuditLog
from services.identity.adapters.browser_sessions import SqlBrowserSessions
from services.identity.adapters.consents import SqlConsents
from services.identity.adapters.logout_outbox import SqlLogoutOutbox
from services.identity.adapters.pending_authorizations import SqlPendingAuthorizations
from services.identity.adapters.pushed_requests import SqlPushedRequests
from services.identity.adapters.repositories import (
    SqlAgencyRepository,
    SqlAssertionLedger,
    SqlKeyRepository,
)
from services.identity.adapters.signin_failures import SqlSigninFailures
from services.identity.adapters.tables import idempotency_keys
from services.identity.adapters.throttle_counters import SqlThrottleCounters
from services.identity.adapters.token_store import (
    SqlAuthorizationCodes,
    SqlUserTokens,
    SqlVerificationTickets,
)
from services.runtime.db import advisory_lock
from services.runtime.idempotency_sql import SqlIdempotencyKeys
from services.runtime.sql_unit_of_work import SqlTransactions


class SqlIdentityWork:
    """Each repository is made on first use: most use cases touch two or three."""

    def __init__(self, session: Session) -> None:
        self.session = session

    # -- accounts and sign-in ----------------------------------------------------
    @cached_property
    def accounts(self) -> SqlAccountRepository:
        return SqlAccountRepository(self.session)

    @cached_property
    def browser_sessions(self) -> SqlBrowserSessions:
        return SqlBrowserSessions(self.session)

    @cached_property
    def signin_failures(self) -> SqlSigninFailures:
        return SqlSigninFailures(self.session)

    @cached_property
    def throttle_counters(self) -> SqlThrottleCounters:
        return SqlThrottleCounters(self.session)

    @cached_property
    def known_devices(self) -> SqlKnownDevices:
        return SqlKnownDevices(self.session)

    @cached_property
    def recovery_codes(self) -> SqlRecoveryCodes:
        return SqlRecoveryCodes(self.session)

    @cached_property
    def verification_tickets(self) -> SqlVerificationTickets:
        return SqlVerificationTickets(self.session)

    @cached_property
    def consents(self) -> SqlConsents:
        return SqlConsents(self.session)

    @cached_property
    def pending(self) -> SqlPendingAuthorizations:
        return SqlPendingAuthorizations(self.session)

    @cached_property
    def pushed_requests(self) -> SqlPushedRequests:
        return SqlPushedRequests(self.session)

    @cached_property
    def logout_outbox(self) -> SqlLogoutOutbox:
        return SqlLogoutOutbox(self.session)

    # -- agencies and the audit log ----------------------------------------------
    @cached_property
    def agencies(self) -> SqlAgencyRepository:
        return SqlAgencyRepository(self.session)

    @cached_property
    def audit(self) -> SqlAuditLog:
        return SqlAuditLog(self.session)

    @cached_property
    def idempotency(self) -> SqlIdempotencyKeys:
        return SqlIdempotencyKeys(self.session, idempotency_keys)

    # -- tokens and keys -----------------------------------------------------------
    @cached_property
    def authorization_codes(self) -> SqlAuthorizationCodes:
        return SqlAuthorizationCodes(self.session)

    @cached_property
    def user_tokens(self) -> SqlUserTokens:
        return SqlUserTokens(self.session)

    @cached_property
    def signing_keys(self) -> SqlKeyRepository:
        return SqlKeyRepository(self.session)

    @cached_property
    def assertions(self) -> SqlAssertionLedger:
        return SqlAssertionLedger(self.session)

    # -- the transaction itself -------------------------------------------------------
    def on_commit(self, callback: Callable[[], None]) -> None:
        event.listen(self.session, "after_commit", lambda _: callback(), once=True)

    def lock(self, name: str) -> None:
        advisory_lock(self.session, name)


def identity_transactions(sessions: sessionmaker[Session]) -> SqlTransactions[SqlIdentityWork]:
    return SqlTransactions(sessions, SqlIdentityWork)
