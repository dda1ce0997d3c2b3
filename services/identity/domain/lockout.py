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
  password never does, so knowing the password buys no fresh guesses.
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

    # -- wrong passwords, per email address ----------------------------------------------

    def strike(self, failures: int, limit: int, now: datetime) -> Strike:
        """``failures`` so far under a count whose limit is ``limit``, plus one."""
        if failures + 1 >= limit:
            return Strike(0, now + self.lock_for)
        return Strike(failures + 1, None)

    # -- wrong second factors, per account ---------------------------------------------

    def after_second_factor_failure(self, account: Account, now: datetime) -> Account:
        attempts = account.failed_second_factor + 1
        if attempts >= self.max_attempts:
            return replace(account, failed_second_factor=0, locked_until=now + self.lock_for)
        return replace(account, failed_second_factor=attempts)

    @staticmethod
    def after_sign_in(account: Account) -> Account:
        """A correct second factor: the sign-in is complete, the count starts again."""
        if account.failed_second_factor == 0 and account.locked_until is None:
            return account
        return replace(account, failed_second_factor=0, locked_until=None)


def address_key(email: str) -> str:
    """The key of an email address's count: a hash of the normalised address, so
    counts for addresses without an account hold no personal data."""
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


def client_key(email: str, ip: str | None) -> str:
    """The key of the count for one email address from one client address."""
    both = f"{email.strip().lower()}\0{ip or 'unknown'}"
    return hashlib.sha256(both.encode()).hexdigest()
