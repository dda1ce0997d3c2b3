"""What platform operators do to citizen accounts, and how they read the audit log.

An operator sees an account's status, never its secrets (password hash, TOTP
secret). A lock by an operator also ends the account's sessions and revokes
its tokens: an account is locked because something is wrong with it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from sqlalchemy.orm import Session, sessionmaker

from services.identity.adapters import audit_log, signin_failures
from services.identity.adapters.accounts import SqlAccountRepository
from services.identity.adapters.audit_log import AuditFilter
from services.identity.adapters.tables import idempotency_keys
from services.identity.adapters.tables import sessions as session_table
from services.identity.adapters.token_store import SqlUserTokens
from services.identity.domain.accounts import Account
from services.identity.domain.audit import AuditEvent, EventType
from services.identity.domain.lockout import LockoutPolicy, address_key
from services.identity.service_layer.citizen_tokens import CitizenTokens
from services.runtime.db import transaction
from services.runtime.db_types import utcnow
from services.runtime.errors import FieldViolation, InvalidArgument, NotFound
from services.runtime.idempotency import Keyed, claim_id, complete_id
from services.runtime.idempotency_sql import SqlIdempotencyKeys
from services.runtime.pagination import Page, PageRequest

# An operator's lock without an end: far enough to never pass, and a value
# both SQLite and PostgreSQL store.
INDEFINITELY = datetime(9999, 12, 31, tzinfo=UTC)
MAX_REASON = 200


@dataclass(frozen=True)
class AccountStatus:
    account_id: str
    email: str
    email_verified: bool
    phone_number_verified: bool
    has_second_factor: bool
    locked_until: datetime | None
    locked: bool
    locked_indefinitely: bool
    failed_attempts: int
    created_at: datetime


def status_of(account: Account, session: Session, now: datetime) -> AccountStatus:
    """The account's status, its address's wrong passwords (``signin_failures``)
    included: a lock after wrong passwords is a lock too."""
    address = address_key(account.email)
    password_lock = signin_failures.locked_until(session, [address], now)
    locks = [u for u in (account.locked_until, password_lock) if u is not None and now < u]
    return AccountStatus(
        account_id=account.id,
        email=account.email,
        email_verified=account.email_verified,
        phone_number_verified=account.phone_number_verified,
        has_second_factor=account.has_second_factor,
        locked_until=max(locks) if locks else None,
        locked=bool(locks),
        locked_indefinitely=account.locked_until == INDEFINITELY,
        failed_attempts=account.failed_second_factor + signin_failures.failures(session, address),
        created_at=account.created_at,
    )


def event_types(types: Sequence[str]) -> list[EventType]:
    known = {str(t) for t in EventType}
    bad = [
        FieldViolation(
            f"types[{i}]", f"unknown event type {t!r}; known: {', '.join(sorted(known))}"
        )
        for i, t in enumerate(types)
        if t not in known
    ]
    if bad:
        raise InvalidArgument.from_violations(bad)
    return [EventType(t) for t in types]


class Operators:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        tokens: CitizenTokens,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sessions = sessions
        self._tokens = tokens
        self._clock = clock

    # -- accounts -----------------------------------------------------------------

    def lookup(self, *, account_id: str = "", email: str = "") -> AccountStatus:
        if bool(account_id) == bool(email):
            raise InvalidArgument.from_violations(
                [FieldViolation("account_id", "give exactly one of account_id and email")]
            )
        with self._sessions() as session:
            repo = SqlAccountRepository(session)
            account = repo.get(account_id) if account_id else repo.by_email(email)
            if account is None:
                raise NotFound("no such account")
            return status_of(account, session, self._clock())

    def lock(
        self,
        account_id: str,
        *,
        until: datetime | None,
        reason: str,
        actor: str,
        keyed: Keyed | None = None,
    ) -> AccountStatus:
        """Lock until ``until`` (None: indefinitely), end every session of the
        account and revoke its tokens."""
        now = self._clock()
        violations = _check_account_id(account_id) + _check_reason(reason)
        if until is not None and until <= now:
            violations.append(FieldViolation("lock_until", "must be in the future"))
        if until is not None and until > INDEFINITELY:
            violations.append(FieldViolation("lock_until", "too far in the future"))
        if violations:
            raise InvalidArgument.from_violations(violations)
        with transaction(self._sessions) as session:
            earlier = claim_id(SqlIdempotencyKeys(session, idempotency_keys), keyed)
            if earlier is not None:
                return self._status(session, earlier, now)
            repo = SqlAccountRepository(session)
            account = _require(repo.get_for_update(account_id))
            locked = replace(account, locked_until=until or INDEFINITELY, failed_second_factor=0)
            repo.update(locked)
            ended = session.execute(
                session_table.update()
                .where(session_table.c.account_id == account_id, session_table.c.ended_at.is_(None))
                .values(ended_at=now)
                .returning(session_table.c.sid)
            ).all()
            revoked = self._tokens.revoke_account(SqlUserTokens(session), account_id)
            audit_log.record(
                session,
                EventType.ACCOUNT_LOCKED,
                at=now,
                account_id=account_id,
                by=actor,
                reason=reason,
                until=until.isoformat() if until else "indefinitely",
                ended_sessions=len(ended),
                revoked_tokens=revoked,
            )
            complete_id(SqlIdempotencyKeys(session, idempotency_keys), keyed, account_id)
            return status_of(locked, session, now)

    def unlock(
        self, account_id: str, *, reason: str, actor: str, keyed: Keyed | None = None
    ) -> AccountStatus:
        now = self._clock()
        violations = _check_account_id(account_id) + _check_reason(reason)
        if violations:
            raise InvalidArgument.from_violations(violations)
        with transaction(self._sessions) as session:
            earlier = claim_id(SqlIdempotencyKeys(session, idempotency_keys), keyed)
            if earlier is not None:
                return self._status(session, earlier, now)
            repo = SqlAccountRepository(session)
            account = _require(repo.get_for_update(account_id))
            unlocked = LockoutPolicy.after_unlock(account)  # the series of locks too
            repo.update(unlocked)
            password_lock = signin_failures.locked_until(session, [address_key(account.email)], now)
            # Wrong passwords' locks go too, from every client address.
            signin_failures.lift(session, address_key(account.email))
            audit_log.record(
                session,
                EventType.ACCOUNT_UNLOCKED,
                at=now,
                account_id=account_id,
                by=actor,
                reason=reason,
                was_locked=account.locked(now) or password_lock is not None,
            )
            complete_id(SqlIdempotencyKeys(session, idempotency_keys), keyed, account_id)
            return status_of(unlocked, session, now)

    def _status(self, session: Session, account_id: str, now: datetime) -> AccountStatus:
        return status_of(_require(SqlAccountRepository(session).get(account_id)), session, now)

    # -- audit --------------------------------------------------------------------

    def audit_events(self, where: AuditFilter, page: PageRequest) -> Page[AuditEvent]:
        """Newest first; the page token is the (time, id) of the last event shown."""
        event_types(where.types)
        if where.since and where.until and where.until <= where.since:
            raise InvalidArgument.from_violations(
                [FieldViolation("end_time", "must be after start_time")]
            )
        if page.after is not None and not _valid_cursor(page.after):
            raise InvalidArgument.from_violations(
                [FieldViolation("page_token", "not a token from a previous response")]
            )
        with self._sessions() as session:
            found = audit_log.query(session, where, after=page.after, limit=page.size + 1)
        return Page.from_overfetch(found, page.size, key=audit_log.cursor)


def _require(account: Account | None) -> Account:
    if account is None:
        raise NotFound("no such account")
    return account


def _check_account_id(account_id: str) -> list[FieldViolation]:
    return [] if account_id else [FieldViolation("account_id", "required")]


def _check_reason(reason: str) -> list[FieldViolation]:
    if len(reason) > MAX_REASON or not reason.isprintable():
        return [FieldViolation("reason", f"at most {MAX_REASON} printable characters")]
    return []


def _valid_cursor(cursor: str) -> bool:
    at_text, separator, event_id = cursor.partition("|")
    if not separator or not event_id:
        return False
    try:
        at = datetime.fromisoformat(at_text)
    except ValueError:
        return False
    return at.tzinfo is not None
