"""Citizen sign-in: passwords, second factors, lockout, server-side sessions
(consent is in consents.py).

Runs on worker threads (argon2id is deliberately slow and must stay off the
event loop). Every outcome is an audit event; no password or code is logged.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import Enum

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from services.identity.adapters.accounts import SqlAccountRepository
from services.identity.adapters.passwords import Argon2PasswordHasher
from services.identity.adapters.tables import sessions as session_table
from services.identity.domain import assurance, totp
from services.identity.domain.accounts import Account
from services.identity.domain.audit import EventType
from services.identity.domain.lockout import LockoutPolicy
from services.identity.service_layer.audit_trail import AuditTrail, Where
from services.runtime.db import transaction
from services.runtime.db_types import utcnow


class Outcome(Enum):
    OK = "ok"
    INVALID = "invalid"
    LOCKED = "locked"


@dataclass(frozen=True)
class BrowserSession:
    sid: str
    account_id: str
    auth_time: datetime
    acr: str
    amr: tuple[str, ...]


@dataclass(frozen=True)
class Attempt:
    outcome: Outcome
    account: Account | None = None


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


class SignIn:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        hasher: Argon2PasswordHasher,
        *,
        lockout: LockoutPolicy | None = None,
        idle_timeout: timedelta = timedelta(minutes=30),
        max_session: timedelta = timedelta(hours=12),
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sessions = sessions
        self._hasher = hasher
        self._lockout = lockout or LockoutPolicy()
        self._idle = idle_timeout
        self._max = max_session
        self._clock = clock
        self._trail = AuditTrail(sessions, clock)

    def account(self, account_id: str) -> Account | None:
        with self._sessions() as session:
            return SqlAccountRepository(session).get(account_id)

    # -- first factor --------------------------------------------------------

    def password(self, email: str, password: str, where: Where) -> Attempt:
        now = self._clock()
        with self._sessions() as session:
            account = SqlAccountRepository(session).by_email(email)
        if account is None:
            self._hasher.verify_decoy(password)  # same cost as a real check
            self._trail.audit(EventType.SIGN_IN_FAILED, where, reason="unknown account")
            return Attempt(Outcome.INVALID)
        if account.locked(now):
            self._trail.audit(EventType.SIGN_IN_FAILED, where, account.id, reason="locked")
            return Attempt(Outcome.LOCKED)
        ok = self._hasher.verify(account.password_hash, password)
        return self._settle(account.id, ok, where, "password", rehash=password if ok else None)

    # -- second factor -------------------------------------------------------

    def second_factor(self, account_id: str, code: str, where: Where) -> Attempt:
        now = self._clock()
        with self._sessions() as session:
            account = SqlAccountRepository(session).get(account_id)
        if account is None or account.totp_secret is None:
            return Attempt(Outcome.INVALID)
        if account.locked(now):
            return Attempt(Outcome.LOCKED)
        step = totp.matching_step(
            account.totp_secret, code, now.timestamp(), account.totp_last_step
        )
        return self._settle(account.id, step is not None, where, "totp", totp_step=step)

    def _settle(
        self,
        account_id: str,
        ok: bool,
        where: Where,
        factor: str,
        *,
        rehash: str | None = None,
        totp_step: int | None = None,
    ) -> Attempt:
        """Record the outcome under a row lock, so replicas count attempts together."""
        now = self._clock()
        with transaction(self._sessions) as session:
            repo = SqlAccountRepository(session)
            account = repo.get_for_update(account_id)
            if account is None:
                return Attempt(Outcome.INVALID)
            if account.locked(now):
                return Attempt(Outcome.LOCKED)
            if not ok:
                updated = self._lockout.after_failure(account, now)
                repo.update(updated)
                event = (
                    EventType.SIGN_IN_FAILED
                    if factor == "password"
                    else EventType.SECOND_FACTOR_FAILED
                )
                self._trail.record(session, event, where, account.id, reason=f"wrong {factor}")
                if updated.locked_until is not None:
                    self._trail.record(
                        session, EventType.ACCOUNT_LOCKED, where, account.id, factor=factor
                    )
                    return Attempt(Outcome.LOCKED)
                return Attempt(Outcome.INVALID)
            updated = self._lockout.after_success(account)
            if totp_step is not None:
                if account.totp_last_step is not None and totp_step <= account.totp_last_step:
                    return Attempt(Outcome.INVALID)  # a racing replica used this code
                updated = replace(updated, totp_last_step=totp_step)
            if rehash is not None and self._hasher.needs_rehash(account.password_hash):
                updated = replace(updated, password_hash=self._hasher.hash(rehash))
            if updated != account:
                repo.update(updated)
            return Attempt(Outcome.OK, updated)

    # -- sessions -------------------------------------------------------------

    def start_session(self, account: Account, acr: str, where: Where) -> tuple[str, BrowserSession]:
        """A new session (a fresh sign-in); returns the cookie value and the session."""
        cookie = secrets.token_urlsafe(32)
        now = self._clock()
        browser = BrowserSession(
            sid=uuid.uuid4().hex,
            account_id=account.id,
            auth_time=now,
            acr=acr,
            amr=tuple(assurance.amr_for(acr)),
        )
        with transaction(self._sessions) as session:
            session.execute(
                session_table.insert().values(
                    id_hash=_hash(cookie),
                    sid=browser.sid,
                    account_id=account.id,
                    auth_time=now,
                    acr=acr,
                    amr=list(browser.amr),
                    created_at=now,
                    last_seen_at=now,
                )
            )
            self._trail.record(session, EventType.SIGN_IN_SUCCEEDED, where, account.id, acr=acr)
        return cookie, browser

    def step_up(self, cookie: str, where: Where) -> BrowserSession | None:
        """The session's second factor was just proved: raise it to Cl.Cm."""
        now = self._clock()
        t = session_table
        with transaction(self._sessions) as session:
            session.execute(
                t.update()
                .where(t.c.id_hash == _hash(cookie), t.c.ended_at.is_(None))
                .values(
                    acr=assurance.MEDIUM,
                    amr=assurance.amr_for(assurance.MEDIUM),
                    auth_time=now,
                    last_seen_at=now,
                )
            )
            found = self._load(session, cookie, now)
            if found is not None:
                self._trail.record(
                    session, EventType.SIGN_IN_SUCCEEDED, where, found.account_id, acr=found.acr
                )
        return found

    def session(self, cookie: str | None) -> BrowserSession | None:
        """The live session behind a cookie (sliding its idle timeout), or None."""
        if not cookie:
            return None
        now = self._clock()
        with transaction(self._sessions) as session:
            found = self._load(session, cookie, now)
            if found is not None:
                t = session_table
                session.execute(
                    t.update().where(t.c.id_hash == _hash(cookie)).values(last_seen_at=now)
                )
        return found

    def _load(self, session: Session, cookie: str, now: datetime) -> BrowserSession | None:
        t = session_table
        row = session.execute(
            sa.select(t).where(t.c.id_hash == _hash(cookie), t.c.ended_at.is_(None))
        ).first()
        if row is None or row.last_seen_at + self._idle <= now or row.created_at + self._max <= now:
            return None
        return BrowserSession(row.sid, row.account_id, row.auth_time, row.acr, tuple(row.amr))

    def end(self, session: Session, sid: str) -> str | None:
        """End one session; returns its account id (for the audit event)."""
        t = session_table
        row = session.execute(
            t.update()
            .where(t.c.sid == sid, t.c.ended_at.is_(None))
            .values(ended_at=self._clock())
            .returning(t.c.account_id)
        ).first()
        return row.account_id if row else None
