"""Lockout after repeated wrong passwords or second-factor codes (GOV.UK One
Login's style: a few tries, then a timed lock). Two separate counts:

- Wrong passwords are counted per email address, whether or not it has an
  account, so a locked address reads the same either way: per (address, client
  address) a lock after ``max_attempts`` in a row, and per address, from any
  client, a slower lock after ``address_attempts`` in a row (no one locks a
  citizen out cheaply from one machine). A correct password resets both.
- Wrong second-factor answers (authenticator and texted codes, recovery codes)
  are counted on the account and lock it after ``max_attempts`` in a row. Only
  a correct second factor (a completed sign-in) resets that count: a correct
  password never does, so knowing the password buys no fresh guesses. Locks in
  a row escalate: each second-factor lock that follows one without a completed
  sign-in in between lasts twice as long as the last, up to ``longest_lock``.
  Without that, whoever knows the password would get ``max_attempts`` guesses
  every ``lock_for`` for ever (6 per 15 minutes is 576 a day against a 6-digit
  code); with it, the first day allows 42 and each day after 6.
  Only a completed sign-in or an operator's unlock starts the series again.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from services.identity.domain.accounts import Account


@dataclass(frozen=True)
class Strike:
    """One more wrong password under one count: the count kept, and when the
    count just locked its key, until when."""

    failures: int
    locked_until: datetime | None


@dataclass(frozen=True)
class LockoutPolicy:
    max_attempts: int = 6
    lock_for: timedelta = timedelta(minutes=15)
    address_attempts: int = 30
    # An unlocked count of wrong passwords is forgotten this long after the last one.
    forget_after: timedelta = timedelta(days=1)
    # Second-factor locks in a row double up to this (never below lock_for).
    longest_lock: timedelta = timedelta(hours=24)

    # -- wrong passwords, per email address ----------------------------------------------

    def strike(self, failures: int, limit: int, now: datetime) -> Strike:
        """``failures`` so far under a count whose limit is ``limit``, plus one."""
        if failures + 1 >= limit:
            return Strike(0, now + self.lock_for)
        return Strike(failures + 1, None)

    # -- wrong second factors, per account ---------------------------------------------

    def second_factor_lock(self, locks: int) -> timedelta:
        """How long second-factor lock number ``locks`` in a row lasts (1 for the
        first): ``lock_for``, doubled for each lock before it, at most
        ``longest_lock``."""
        cap = max(self.lock_for, self.longest_lock)
        length = self.lock_for
        for _ in range(locks - 1):
            if length >= cap:
                break
            length *= 2
        return min(length, cap)

    def after_second_factor_failure(self, account: Account, now: datetime) -> Account:
        """One more wrong answer from an account not locked at ``now``. The result
        has ``locked_until`` set only when this answer locked it: a lock that
        has run out is cleared (the series of locks is kept)."""
        attempts = account.failed_second_factor + 1
        if attempts >= self.max_attempts:
            locks = account.second_factor_locks + 1
            return replace(
                account,
                failed_second_factor=0,
                second_factor_locks=locks,
                locked_until=now + self.second_factor_lock(locks),
            )
        return replace(account, failed_second_factor=attempts, locked_until=None)

    @staticmethod
    def after_sign_in(account: Account) -> Account:
        """A correct second factor: the sign-in is complete, the count and the
        series of locks start again."""
        return LockoutPolicy.after_unlock(account)

    @staticmethod
    def after_unlock(account: Account) -> Account:
        """No lock, no count, no series of locks (a completed sign-in, an
        operator's unlock)."""
        if (
            account.failed_second_factor == 0
            and account.second_factor_locks == 0
            and account.locked_until is None
        ):
            return account
        return replace(account, failed_second_factor=0, second_factor_locks=0, locked_until=None)


def address_key(email: str) -> str:
    """The key of an email address's count: a hash of the normalised address, so
    counts for addresses without an account hold no personal data."""
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


def client_key(email: str, ip: str | None) -> str:
    """The key of the count for one email address from one client address."""
    both = f"{email.strip().lower()}\0{ip or 'unknown'}"
    return hashlib.sha256(both.encode()).hexdigest()
