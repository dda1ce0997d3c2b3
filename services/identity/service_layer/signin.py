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

from services.identity.domain import assurance, totp
from services.identity.domain.accounts import Account
from services.identity.domain.audit import EventType
from services.identity.domain.lockout import LockoutPolicy
from services.identity.domain.sessions import BrowserSession
from services.identity.service_layer.account_ports import PasswordHasher
from services.identity.service_layer.audit_trail import AuditTrail, Where
from services.identity.service_layer.password_lockout import PasswordLockout
from services.identity.service_layer.unit_of_work import IdentityTransactions, IdentityWork
from services.runtime.clock import Clock, utcnow

__all__ = ["Attempt", "BrowserSession", "LockAlert", "Outcome", "SignIn", "second_factor_failed"]


class Outcome(Enum):
    OK = "ok"
    INVALID = "invalid"
    LOCKED = "locked"


@dataclass(frozen=True)
class Attempt:
    outcome: Outcome
    account: Account | None = None
    # LOCKED by the account's own lock (second factors, an operator): until when.
    locked_until: datetime | None = None


# Told when wrong second factors have just locked an account (its owner is
# emailed), once the lock is committed.
LockAlert = Callable[[Account], None]


def second_factor_failed(
    trail: AuditTrail,
    policy: LockoutPolicy,
    uow: IdentityWork,
    account: Account,
    where: Where,
    *,
    factor: str,
    reason: str,
    event: EventType = EventType.SECOND_FACTOR_FAILED,
    alert: LockAlert | None = None,
) -> Outcome:
    """Count a wrong second-factor answer (authenticator or texted code, recovery
    code) for ``account``, already locked for update in ``uow``; LOCKED when
    it was the last one allowed (then ``alert`` is told once ``uow`` commits)."""
    updated = policy.after_second_factor_failure(account, trail.now())
    uow.accounts.update(updated)
    trail.record(uow, event, where, account.id, reason=reason)
    if updated.locked_until is not None:
        trail.record(
            uow,
            EventType.ACCOUNT_LOCKED,
            where,
            account.id,
            factor=factor,
            until=updated.locked_until.isoformat(),
            in_a_row=updated.second_factor_locks,
        )
        if alert is not None:
            uow.on_commit(lambda: alert(updated))
        return Outcome.LOCKED
    return Outcome.INVALID


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


class SignIn:
    def __init__(
        self,
        uow: IdentityTransactions,
        hasher: PasswordHasher,
        *,
        lockout: LockoutPolicy | None = None,
        idle_timeout: timedelta = timedelta(minutes=30),
        max_session: timedelta = timedelta(hours=12),
        clock: Clock = utcnow,
    ) -> None:
        self._uow = uow
        self._hasher = hasher
        self._lockout = lockout or LockoutPolicy()
        self.password_lockout = PasswordLockout(uow, self._lockout, clock)
        self._idle = idle_timeout
        self._max = max_session
        self._clock = clock
        self._trail = AuditTrail(uow, clock)
        # Set where citizens can be emailed (bootstrap: Safeguards.lock_alert).
        self.lock_alert: LockAlert | None = None

    def account(self, account_id: str) -> Account | None:
        with self._uow.read() as uow:
            return uow.accounts.get(account_id)

    # -- first factor --------------------------------------------------------

    def password(self, email: str, password: str, where: Where) -> Attempt:
        """The same work and the same answer for a known and an unknown address:
        argon2id always runs (against a decoy when the address has no account or
        is locked), and wrong passwords are counted per address either way."""
        now = self._clock()
        with self._uow.read() as uow:
            account = uow.accounts.by_email(email)
        account_id = account.id if account else None
        locked_out, counted = self.password_lockout.standing(email, where.ip)
        if locked_out:
            self._hasher.verify_decoy(password)  # same cost as a real check
            self._trail.audit(EventType.SIGN_IN_FAILED, where, account_id, reason="locked")
            return Attempt(Outcome.LOCKED)
        if account is None:
            self._hasher.verify_decoy(password)
            ok = False
        else:
            ok = self._hasher.verify(account.password_hash, password)
        if not ok:
            locked = self.password_lockout.failure(email, where.ip)
            reason = "wrong password" if account else "unknown account"
            with self._uow() as uow:
                self._trail.record(uow, EventType.SIGN_IN_FAILED, where, account_id, reason=reason)
                if locked:
                    self._trail.record(
                        uow, EventType.ACCOUNT_LOCKED, where, account_id, factor="password"
                    )
            return Attempt(Outcome.LOCKED if locked else Outcome.INVALID)
        assert account is not None
        if counted:  # a write only when there is a count to forget
            self.password_lockout.success(email, where.ip)
        if account.locked(now):
            # Locked by wrong second factors or an operator: said only to whoever
            # knows the password.
            self._trail.audit(EventType.SIGN_IN_FAILED, where, account.id, reason="locked")
            return Attempt(Outcome.LOCKED, locked_until=account.locked_until)
        if not self._hasher.needs_rehash(account.password_hash):
            return Attempt(Outcome.OK, account)
        with self._uow() as uow:
            current = uow.accounts.get_for_update(account.id)
            if current is None:
                return Attempt(Outcome.INVALID)
            if current.password_hash != account.password_hash:
                return Attempt(Outcome.OK, current)  # changed meanwhile: keep the new one
            updated = replace(current, password_hash=self._hasher.hash(password))
            uow.accounts.update(updated)
        return Attempt(Outcome.OK, updated)

    # -- second factor -------------------------------------------------------

    def second_factor(self, account_id: str, code: str, where: Where) -> Attempt:
        """An authenticator code. Wrong ones count towards the account's lock on
        their own: only a correct second factor starts the count again."""
        now = self._clock()
        with self._uow.read() as uow:
            account = uow.accounts.get(account_id)
        if account is None or account.totp_secret is None:
            return Attempt(Outcome.INVALID)
        if account.locked(now):
            return Attempt(Outcome.LOCKED, locked_until=account.locked_until)
        step = totp.matching_step(
            account.totp_secret, code, now.timestamp(), account.totp_last_step
        )
        with self._uow() as uow:
            current = uow.accounts.get_for_update(account_id)
            if current is None:
                return Attempt(Outcome.INVALID)
            if current.locked(now):
                return Attempt(Outcome.LOCKED, locked_until=current.locked_until)
            if step is None or (
                current.totp_last_step is not None and step <= current.totp_last_step
            ):
                # Wrong, or a racing replica used this code first.
                outcome = second_factor_failed(
                    self._trail,
                    self._lockout,
                    uow,
                    current,
                    where,
                    factor="totp",
                    reason="wrong totp",
                    alert=self.lock_alert,
                )
                if outcome is Outcome.LOCKED:
                    locked = uow.accounts.get(account_id)
                    return Attempt(outcome, locked_until=locked.locked_until if locked else None)
                return Attempt(outcome)
            updated = replace(self._lockout.after_sign_in(current), totp_last_step=step)
            uow.accounts.update(updated)
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
        with self._uow() as uow:
            uow.browser_sessions.add(_hash(cookie), browser)
            self._trail.record(uow, EventType.SIGN_IN_SUCCEEDED, where, account.id, acr=acr)
        return cookie, browser

    def step_up(self, cookie: str, where: Where) -> BrowserSession | None:
        """The session's second factor was just proved: raise it to Cl.Cm."""
        now = self._clock()
        with self._uow() as uow:
            uow.browser_sessions.step_up(
                _hash(cookie), assurance.MEDIUM, assurance.amr_for(assurance.MEDIUM), now
            )
            found = self._load(uow, cookie, now)
            if found is not None:
                self._trail.record(
                    uow, EventType.SIGN_IN_SUCCEEDED, where, found.account_id, acr=found.acr
                )
        return found

    def session(self, cookie: str | None) -> BrowserSession | None:
        """The live session behind a cookie (sliding its idle timeout), or None."""
        if not cookie:
            return None
        now = self._clock()
        with self._uow() as uow:
            found = self._load(uow, cookie, now)
            if found is not None:
                uow.browser_sessions.seen(_hash(cookie), now)
        return found

    def _load(self, uow: IdentityWork, cookie: str, now: datetime) -> BrowserSession | None:
        stored = uow.browser_sessions.find(_hash(cookie))
        if (
            stored is None
            or stored.last_seen_at + self._idle <= now
            or stored.created_at + self._max <= now
        ):
            return None
        return stored.session

    def end(self, uow: IdentityWork, sid: str) -> str | None:
        """End one session in ``uow``; returns its account id (for the audit event)."""
        return uow.browser_sessions.end(sid, self._clock())
