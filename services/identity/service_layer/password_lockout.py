"""Wrong passwords, counted per email address whether or not it has an account
(``domain.lockout``): the same work, the same counts and the same lock for a
known and an unknown address, so the lockout never tells them apart.

Counts live in identity's database, so replicas count together.
Runs on worker threads (the database).
"""

from __future__ import annotations

from services.identity.domain.lockout import LockoutPolicy, address_key, client_key
from services.identity.service_layer.unit_of_work import IdentityTransactions
from services.runtime.client_address import throttle_key
from services.runtime.clock import Clock, utcnow


class PasswordLockout:
    def __init__(
        self,
        uow: IdentityTransactions,
        policy: LockoutPolicy,
        clock: Clock = utcnow,
    ) -> None:
        self._uow = uow
        self.policy = policy
        self._clock = clock

    def locked(self, email: str, ip: str | None) -> bool:
        """Whether wrong passwords have locked this address, from this client or
        from everywhere."""
        return self.standing(email, ip)[0]

    def standing(self, email: str, ip: str | None) -> tuple[bool, bool]:
        """(locked, counted): whether wrong passwords have locked this address, and
        whether any wrong password is counted for it at all."""
        with self._uow.read() as uow:
            return uow.signin_failures.standing(_keys(email, ip), self._clock())

    def failure(self, email: str, ip: str | None) -> bool:
        """Count one wrong password; True when it locked the address (from this
        client or everywhere)."""
        now = self._clock()
        policy = self.policy
        address = address_key(email)
        limits = ((_client(email, ip), policy.max_attempts), (address, policy.address_attempts))
        locked = False
        with self._uow() as uow:
            for key, limit in limits:
                forget_at = now + policy.forget_after
                before = uow.signin_failures.add_one(key, address, forget_at)
                strike = policy.strike(before, limit, now)
                if strike.locked_until is not None:
                    forget_at = max(forget_at, strike.locked_until)
                    locked = True
                uow.signin_failures.settle(key, strike.failures, strike.locked_until, forget_at)
        return locked

    def success(self, email: str, ip: str | None) -> None:
        """A correct password: this address's counts start again."""
        with self._uow() as uow:
            uow.signin_failures.forget(_keys(email, ip), self._clock())

    def lift(self, email: str) -> None:
        """Forget every count and lock of this address (from every client)."""
        with self._uow() as uow:
            uow.signin_failures.lift(address_key(email))

    def purge(self) -> int:
        with self._uow() as uow:
            return uow.signin_failures.purge(self._clock())


def _keys(email: str, ip: str | None) -> list[str]:
    return [_client(email, ip), address_key(email)]


def _client(email: str, ip: str | None) -> str:
    # An IPv6 client counts by its /64, which it could otherwise rotate through.
    return client_key(email, throttle_key(ip))
