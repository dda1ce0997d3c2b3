"""Lockout after repeated wrong passwords or codes (GOV.UK One Login's style:
six tries, then a timed lock). The message a citizen sees never says whether
the address has an account."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from services.identity.domain.accounts import Account


@dataclass(frozen=True)
class LockoutPolicy:
    max_attempts: int = 6
    lock_for: timedelta = timedelta(minutes=15)

    def after_failure(self, account: Account, now: datetime) -> Account:
        attempts = account.failed_attempts + 1
        if attempts >= self.max_attempts:
            return replace(account, failed_attempts=0, locked_until=now + self.lock_for)
        return replace(account, failed_attempts=attempts)

    @staticmethod
    def after_success(account: Account) -> Account:
        if account.failed_attempts == 0 and account.locked_until is None:
            return account
        return replace(account, failed_attempts=0, locked_until=None)
