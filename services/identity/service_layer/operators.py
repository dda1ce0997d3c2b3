"""What platform operators do to citizen accounts, and how they read the audit log.

An operator sees an account's status, never its secrets (password hash, TOTP
secret). A lock by an operator also ends the account's sessions and revokes
its tokens: an account is locked because something is wrong with it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from services.identity.domain.accounts import Account
from services.identity.domain.audit import AuditEvent, AuditFilter, EventType, cursor
from services.identity.domain.lockout import LockoutPolicy, address_key
from services.identity.service_layer.unit_of_work import IdentityTransactions, IdentityWork
from services.runtime.clock import Clock, utcnow
from services.runtime.errors import FieldViolation, InvalidArgument, NotFound
from services.runtime.idempotency import Keyed, claim_id, complete_id
from services.runtime.pagination import Page, PageRequest

__all__ = ["AccountStatus", "AuditFilter", "Operators", "event_types", "status_of"]

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


def status_of(account: Account, uow: IdentityWork, now: datetime) -> AccountStatus:
    """The account's status, its address's wrong passwords (``signin_failures``)
    included: a lock after wrong passwords is a lock too."""
    address = address_key(account.email)
    password_lock = uow.signin_failures.locked_until([address], now)
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
        failed_attempts=account.failed_second_factor + uow.signin_failures.failures(address),
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
        uow: IdentityTransactions,
        clock: Clock = utcnow,
    ) -> None:
        self._uow = uow
        self._clock = clock

    # -- accounts -----------------------------------------------------------------

    def lookup(self, *, account_id: str = "", email: str = "") -> AccountStatus:
        if bool(account_id) == bool(email):
            raise InvalidArgument.from_violations(
                [FieldViolation("account_id", "give exactly one of account_id and email")]
            )
        with self._uow.read() as uow:
            account = uow.accounts.get(account_id) if account_id else uow.accounts.by_email(email)
            if account is None:
                raise NotFound("no such account")
            return status_of(account, uow, self._clock())

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
        with self._uow() as uow:
            earlier = claim_id(uow.idempotency, keyed)
            if earlier is not None:
                return self._status(uow, earlier, now)
            account = _require(uow.accounts.get_for_update(account_id))
            locked = replace(account, locked_until=until or INDEFINITELY, failed_second_factor=0)
            uow.accounts.update(locked)
            ended = uow.browser_sessions.end_all(account_id, now)
            revoked = uow.user_tokens.revoke_account(account_id, now)
            uow.audit.record(
                EventType.ACCOUNT_LOCKED,
                at=now,
                account_id=account_id,
                by=actor,
                reason=reason,
                until=until.isoformat() if until else "indefinitely",
                ended_sessions=len(ended),
                revoked_tokens=revoked,
            )
            complete_id(uow.idempotency, keyed, account_id)
            return status_of(locked, uow, now)

    def unlock(
        self, account_id: str, *, reason: str, actor: str, keyed: Keyed | None = None
    ) -> AccountStatus:
        now = self._clock()
        violations = _check_account_id(account_id) + _check_reason(reason)
        if violations:
            raise InvalidArgument.from_violations(violations)
        with self._uow() as uow:
            earlier = claim_id(uow.idempotency, keyed)
            if earlier is not None:
                return self._status(uow, earlier, now)
            account = _require(uow.accounts.get_for_update(account_id))
            unlocked = LockoutPolicy.after_unlock(account)  # the series of locks too
            uow.accounts.update(unlocked)
            password_lock = uow.signin_failures.locked_until([address_key(account.email)], now)
            # Wrong passwords' locks go too, from every client address.
            uow.signin_failures.lift(address_key(account.email))
            uow.audit.record(
                EventType.ACCOUNT_UNLOCKED,
                at=now,
                account_id=account_id,
                by=actor,
                reason=reason,
                was_locked=account.locked(now) or password_lock is not None,
            )
            complete_id(uow.idempotency, keyed, account_id)
            return status_of(unlocked, uow, now)

    def _status(self, uow: IdentityWork, account_id: str, now: datetime) -> AccountStatus:
        return status_of(_require(uow.accounts.get(account_id)), uow, now)

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
        with self._uow.read() as uow:
            found = uow.audit.query(where, after=page.after, limit=page.size + 1)
        return Page.from_overfetch(found, page.size, key=cursor)


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
