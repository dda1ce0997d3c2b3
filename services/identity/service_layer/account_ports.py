"""The repositories identity's sign-in and account use cases speak to, as ports.

The SQL implementations are in ``adapters/`` (bound to one session by
``adapters/unit_of_work.py``); the tests' in-memory ones are in
``tests/fakes/identity.py``. Read models they share are in ``domain/``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from services.identity.domain.account_use import ConsentedAgency
from services.identity.domain.accounts import Account
from services.identity.domain.agencies import Agency, SecretSlot
from services.identity.domain.audit import AuditEvent, AuditFilter, EventType
from services.identity.domain.disclosure import Disclosure
from services.identity.domain.pending import Pending, StoredPending
from services.identity.domain.pushed_requests import StoredPush
from services.identity.domain.sessions import BrowserSession, StoredSession


class AccountRepository(Protocol):
    def add(self, account: Account) -> None: ...

    def get(self, account_id: str) -> Account | None: ...

    def get_for_update(self, account_id: str) -> Account | None:
        """The account, held until the transaction ends (a racing writer waits)."""
        ...

    def by_email(self, email: str) -> Account | None: ...

    def update(self, account: Account) -> None: ...

    def delete(self, account_id: str) -> None: ...


class AgencyRepository(Protocol):
    def add(self, agency: Agency) -> None: ...

    def get(self, client_id: str) -> Agency | None: ...

    def update(self, agency: Agency) -> None: ...

    def touch_secret(
        self,
        client_id: str,
        secret_hash: str,
        slot: SecretSlot,
        now: datetime,
        stale_before: datetime,
    ) -> None:
        """Set the secret's last use to ``now`` if it still has ``secret_hash``
        and was last used before ``stale_before`` (or never)."""
        ...

    def list(self, *, after: str | None, limit: int, include_disabled: bool) -> Sequence[Agency]:
        """In client id order, from just after ``after``."""
        ...


class AuditLog(Protocol):
    def record(
        self,
        type: EventType,
        *,
        at: datetime,
        account_id: str | None = None,
        client_id: str | None = None,
        ip: str | None = None,
        **details: Any,
    ) -> AuditEvent: ...

    def query(self, where: AuditFilter, *, after: str | None, limit: int) -> list[AuditEvent]:
        """Newest first; ``after`` is the (time, id) cursor of the previous page's last."""
        ...


class SigninFailures(Protocol):
    """Wrong passwords counted per key (an address, or an address from one
    network), so every replica counts together."""

    def standing(self, keys: Sequence[str], now: datetime) -> tuple[bool, bool]:
        """Whether a lock is in force on any of ``keys``, and whether any count exists."""
        ...

    def locked_until(self, keys: Sequence[str], now: datetime) -> datetime | None:
        """The latest lock in force on any of ``keys``."""
        ...

    def failures(self, key: str) -> int: ...

    def add_one(self, key: str, address: str, expires_at: datetime) -> int:
        """One more wrong password under ``key``, held until the transaction
        ends; returns the count before it."""
        ...

    def settle(
        self, key: str, failures: int, locked: datetime | None, expires_at: datetime
    ) -> None:
        """Store the count after a wrong password (and the lock it started)."""
        ...

    def forget(self, keys: Sequence[str], now: datetime) -> None:
        """The counts under ``keys`` start again (locks in force stay)."""
        ...

    def lift(self, address: str) -> int:
        """Every count and lock of one email address."""
        ...

    def purge(self, now: datetime) -> int: ...


class ThrottleCounters(Protocol):
    def increment(self, key: str, window_start: datetime, expires_at: datetime) -> int:
        """Count one more event in the window (atomically); the count including it."""
        ...

    def purge(self, now: datetime) -> int: ...


class ConsentRepository(Protocol):
    def get(self, account_id: str, client_id: str) -> Disclosure | None: ...

    def put(self, account_id: str, client_id: str, consent: Disclosure, at: datetime) -> None:
        """Store the whole consent, granted (and last used) at ``at``."""
        ...

    def delete(self, account_id: str, client_id: str) -> bool: ...

    def of_account(self, account_id: str) -> list[ConsentedAgency]:
        """Newest first."""
        ...


class BrowserSessionStore(Protocol):
    """Sessions by the hash of their cookie (the cookie itself is never stored)."""

    def add(self, cookie_hash: str, session: BrowserSession) -> None: ...

    def find(self, cookie_hash: str) -> StoredSession | None:
        """The session unless it was ended (timeouts are the caller's rule)."""
        ...

    def seen(self, cookie_hash: str, at: datetime) -> None: ...

    def step_up(self, cookie_hash: str, acr: str, amr: Sequence[str], at: datetime) -> None:
        """A session not ended gets ``acr`` and ``amr``, signed in again at ``at``."""
        ...

    def end(self, sid: str, at: datetime) -> str | None:
        """End one session; its account id, or None if it had already ended."""
        ...

    def end_all(self, account_id: str, at: datetime, keep_sid: str | None = None) -> list[str]:
        """End the account's sessions (all but ``keep_sid``); the sids ended."""
        ...

    def revoke_tokens_outside(self, account_id: str, keep_sid: str, at: datetime) -> int:
        """Revoke the account's tokens but those issued in session ``keep_sid``."""
        ...


class KnownDevices(Protocol):
    def of_account(self, account_id: str) -> list[str]:
        """The hashes of the browsers the account signed in from."""
        ...

    def add(self, account_id: str, device_hash: str, at: datetime) -> None: ...

    def seen(self, account_id: str, device_hash: str, at: datetime) -> None: ...


class RecoveryCodes(Protocol):
    """Recovery codes by their keyed hash."""

    def replace(self, account_id: str, code_hashes: Sequence[str], at: datetime) -> None: ...

    def find(self, account_id: str, code_hash: str) -> tuple[bool, datetime | None]:
        """(whether the code exists, when it was used)."""
        ...

    def use(self, account_id: str, code_hash: str, at: datetime) -> None: ...

    def left(self, account_id: str) -> int: ...


class PendingAuthorizations(Protocol):
    def add(self, pending: Pending, created_at: datetime, expires_at: datetime) -> None: ...

    def get(self, pending_id: str) -> StoredPending | None: ...

    def update(self, pending: Pending) -> None: ...

    def delete(self, pending_id: str) -> bool:
        """False if it was already gone."""
        ...

    def purge(self, now: datetime) -> int:
        """Delete those expired at ``now``."""
        ...


class PushedAuthorizationRequests(Protocol):
    """Pushed authorization requests (RFC 9126), by the SHA-256 of their request_uri."""

    def add(self, uri_hash: str, push: StoredPush) -> None: ...

    def take(self, uri_hash: str, client_id: str) -> StoredPush | None:
        """Delete and return the push if ``client_id`` pushed it (expired or
        not); another agency's push is left alone and answered None."""
        ...

    def purge(self, now: datetime) -> int:
        """Delete those expired at ``now``."""
        ...


class LogoutOutbox(Protocol):
    """Back-channel logout tokens owed, written with the change that ends the
    sessions and delivered after it commits."""

    def enqueue(
        self, *, agency: Agency, event_id: str, payload: dict[str, Any], at: datetime
    ) -> str: ...


class PasswordHasher(Protocol):
    """argon2id in production (``adapters/passwords.py``): deliberately slow."""

    def hash(self, password: str) -> str: ...

    def verify(self, password_hash: str, password: str) -> bool: ...

    def verify_decoy(self, password: str) -> None:
        """The cost of a real check, for an address with no account."""
        ...

    def needs_rehash(self, password_hash: str) -> bool: ...
