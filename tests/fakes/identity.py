"""In-memory fakes of identity's unit of work (``IdentityWork``): every port of
service_layer/account_ports.py, with the token-side fakes of
``tests/fakes/identity_tokens.py`` for the ports the two sides share."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from services.identity.domain.account_use import ConsentedAgency
from services.identity.domain.accounts import Account
from services.identity.domain.agencies import Agency, SecretSlot
from services.identity.domain.disclosure import Disclosure
from services.identity.domain.messages import Kind
from services.identity.domain.pending import Pending, StoredPending
from services.identity.domain.pushed_requests import StoredPush
from services.identity.domain.sessions import BrowserSession, StoredSession
from tests.fakes.idempotency import MemoryIdempotencyKeys
from tests.fakes.identity_records import (
    MemoryAccounts,
    MemoryAuditLog,
    MemoryVerificationTickets,
)
from tests.fakes.identity_tokens import (
    MemoryAssertions,
    MemoryAuthorizationCodes,
    MemorySigningKeys,
    MemoryUserTokens,
)
from tests.fakes.transactions import FakeTransactions


@dataclass
class MemoryAgencyRepository:
    rows: dict[str, Agency] = field(default_factory=dict)

    def add(self, agency: Agency) -> None:
        assert agency.client_id not in self.rows, "the primary key refuses a second row"
        self.rows[agency.client_id] = agency

    def get(self, client_id: str) -> Agency | None:
        return self.rows.get(client_id)

    def update(self, agency: Agency) -> None:
        if agency.client_id in self.rows:
            self.rows[agency.client_id] = agency

    def touch_secret(
        self,
        client_id: str,
        secret_hash: str,
        slot: SecretSlot,
        now: datetime,
        stale_before: datetime,
    ) -> None:
        agency = self.rows.get(client_id)
        if agency is None:
            return
        if slot == "current" and agency.secret_hash == secret_hash:
            used = agency.secret_last_used_at
            if used is None or used < stale_before:
                self.rows[client_id] = dataclasses.replace(agency, secret_last_used_at=now)
        previous = agency.previous_secret
        if (
            slot == "previous"
            and previous is not None
            and previous.hash == secret_hash
            and (previous.last_used_at is None or previous.last_used_at < stale_before)
        ):
            self.rows[client_id] = dataclasses.replace(
                agency, previous_secret=dataclasses.replace(previous, last_used_at=now)
            )

    def list(self, *, after: str | None, limit: int, include_disabled: bool) -> Sequence[Agency]:
        found = sorted(self.rows.values(), key=lambda a: a.client_id)
        return [
            a
            for a in found
            if (after is None or a.client_id > after) and (include_disabled or not a.disabled)
        ][:limit]


@dataclass
class FailureCount:
    address: str
    failures: int
    expires_at: datetime
    locked_until: datetime | None = None


@dataclass
class MemorySigninFailures:
    rows: dict[str, FailureCount] = field(default_factory=dict)

    def standing(self, keys: Sequence[str], now: datetime) -> tuple[bool, bool]:
        found = [self.rows[k] for k in keys if k in self.rows]
        return any(r.locked_until is not None and r.locked_until > now for r in found), bool(found)

    def locked_until(self, keys: Sequence[str], now: datetime) -> datetime | None:
        locks = [
            r.locked_until
            for k in keys
            if (r := self.rows.get(k)) is not None
            and r.locked_until is not None
            and r.locked_until > now
        ]
        return max(locks) if locks else None

    def failures(self, key: str) -> int:
        row = self.rows.get(key)
        return row.failures if row else 0

    def add_one(self, key: str, address: str, expires_at: datetime) -> int:
        row = self.rows.get(key)
        if row is None:
            self.rows[key] = FailureCount(address, 1, expires_at)
            return 0
        row.failures += 1
        row.expires_at = expires_at
        return row.failures - 1

    def settle(
        self, key: str, failures: int, locked: datetime | None, expires_at: datetime
    ) -> None:
        row = self.rows[key]
        row.failures = failures
        row.expires_at = expires_at
        if locked is not None:
            row.locked_until = locked

    def forget(self, keys: Sequence[str], now: datetime) -> None:
        for k in keys:
            row = self.rows.get(k)
            if row is not None and (row.locked_until is None or row.locked_until <= now):
                del self.rows[k]

    def lift(self, address: str) -> int:
        gone = [k for k, r in self.rows.items() if r.address == address]
        for k in gone:
            del self.rows[k]
        return len(gone)

    def purge(self, now: datetime) -> int:
        gone = [k for k, r in self.rows.items() if r.expires_at < now]
        for k in gone:
            del self.rows[k]
        return len(gone)


@dataclass
class MemoryThrottleCounters:
    # (key, window start) -> (count, expires at)
    rows: dict[tuple[str, datetime], tuple[int, datetime]] = field(default_factory=dict)

    def increment(self, key: str, window_start: datetime, expires_at: datetime) -> int:
        count, expires = self.rows.get((key, window_start), (0, expires_at))
        self.rows[(key, window_start)] = (count + 1, expires)
        return count + 1

    def purge(self, now: datetime) -> int:
        gone = [k for k, (_, expires) in self.rows.items() if expires < now]
        for k in gone:
            del self.rows[k]
        return len(gone)


@dataclass
class MemoryConsents:
    agencies: MemoryAgencyRepository
    tokens: MemoryUserTokens
    # (account, agency) -> (consent, granted at)
    rows: dict[tuple[str, str], tuple[Disclosure, datetime]] = field(default_factory=dict)

    def get(self, account_id: str, client_id: str) -> Disclosure | None:
        found = self.rows.get((account_id, client_id))
        return found[0] if found else None

    def put(self, account_id: str, client_id: str, consent: Disclosure, at: datetime) -> None:
        self.rows[(account_id, client_id)] = (consent, at)

    def delete(self, account_id: str, client_id: str) -> bool:
        return self.rows.pop((account_id, client_id), None) is not None

    def of_account(self, account_id: str) -> list[ConsentedAgency]:
        found = []
        for (owner, client_id), (consent, granted_at) in self.rows.items():
            if owner != account_id:
                continue
            agency = self.agencies.get(client_id)
            times = [
                t.auth_time
                for t in self.tokens.rows.values()
                if t.account_id == account_id and t.client_id == client_id
            ]
            found.append(
                ConsentedAgency(
                    client_id=client_id,
                    name=agency.name if agency else None,
                    scopes=tuple(sorted(consent.scopes)),
                    claims=tuple(sorted(consent.claims)),
                    registered=tuple(agency.scopes) if agency else None,
                    granted_at=granted_at,
                    last_signed_in=max(times) if times else None,
                )
            )
        return sorted(found, key=lambda c: c.granted_at, reverse=True)


@dataclass
class SessionRow:
    stored: StoredSession
    ended_at: datetime | None = None


@dataclass
class MemoryBrowserSessions:
    tokens: MemoryUserTokens
    rows: dict[str, SessionRow] = field(default_factory=dict)  # by the cookie's hash

    def add(self, cookie_hash: str, session: BrowserSession) -> None:
        assert cookie_hash not in self.rows, "the primary key refuses a second row"
        self.rows[cookie_hash] = SessionRow(
            StoredSession(session, session.auth_time, session.auth_time)
        )

    def find(self, cookie_hash: str) -> StoredSession | None:
        row = self.rows.get(cookie_hash)
        return row.stored if row is not None and row.ended_at is None else None

    def seen(self, cookie_hash: str, at: datetime) -> None:
        row = self.rows.get(cookie_hash)
        if row is not None:
            row.stored = dataclasses.replace(row.stored, last_seen_at=at)

    def step_up(self, cookie_hash: str, acr: str, amr: Sequence[str], at: datetime) -> None:
        row = self.rows.get(cookie_hash)
        if row is not None and row.ended_at is None:
            session = dataclasses.replace(row.stored.session, acr=acr, amr=tuple(amr), auth_time=at)
            row.stored = dataclasses.replace(row.stored, session=session, last_seen_at=at)

    def end(self, sid: str, at: datetime) -> str | None:
        for row in self.rows.values():
            if row.stored.session.sid == sid and row.ended_at is None:
                row.ended_at = at
                return row.stored.session.account_id
        return None

    def end_all(self, account_id: str, at: datetime, keep_sid: str | None = None) -> list[str]:
        ended = []
        for row in self.rows.values():
            session = row.stored.session
            ending = session.account_id == account_id and session.sid != keep_sid
            if ending and row.ended_at is None:
                row.ended_at = at
                ended.append(session.sid)
        return ended

    def revoke_tokens_outside(self, account_id: str, keep_sid: str, at: datetime) -> int:
        revoked = 0
        for token_id, record in list(self.tokens.rows.items()):
            if (
                record.account_id == account_id
                and record.revoked_at is None
                and record.sid is not None
                and record.sid != keep_sid
            ):
                self.tokens.rows[token_id] = dataclasses.replace(record, revoked_at=at)
                revoked += 1
        return revoked

    def live(self, account_id: str) -> list[str]:
        """The sids of the account's sessions not ended (for the tests)."""
        return [
            r.stored.session.sid
            for r in self.rows.values()
            if r.stored.session.account_id == account_id and r.ended_at is None
        ]


@dataclass
class MemoryKnownDevices:
    rows: dict[tuple[str, str], datetime] = field(default_factory=dict)  # -> last seen

    def of_account(self, account_id: str) -> list[str]:
        return [device for owner, device in self.rows if owner == account_id]

    def add(self, account_id: str, device_hash: str, at: datetime) -> None:
        assert (account_id, device_hash) not in self.rows
        self.rows[(account_id, device_hash)] = at

    def seen(self, account_id: str, device_hash: str, at: datetime) -> None:
        if (account_id, device_hash) in self.rows:
            self.rows[(account_id, device_hash)] = at


@dataclass
class MemoryRecoveryCodes:
    rows: dict[tuple[str, str], datetime | None] = field(default_factory=dict)  # -> used at

    def replace(self, account_id: str, code_hashes: Sequence[str], at: datetime) -> None:
        for key in [k for k in self.rows if k[0] == account_id]:
            del self.rows[key]
        for code_hash in code_hashes:
            self.rows[(account_id, code_hash)] = None

    def find(self, account_id: str, code_hash: str) -> tuple[bool, datetime | None]:
        key = (account_id, code_hash)
        return (key in self.rows, self.rows.get(key))

    def use(self, account_id: str, code_hash: str, at: datetime) -> None:
        if (account_id, code_hash) in self.rows:
            self.rows[(account_id, code_hash)] = at

    def left(self, account_id: str) -> int:
        return sum(1 for (owner, _), used in self.rows.items() if owner == account_id and not used)


@dataclass
class MemoryPendingAuthorizations:
    rows: dict[str, StoredPending] = field(default_factory=dict)

    def add(self, pending: Pending, created_at: datetime, expires_at: datetime) -> None:
        assert pending.id not in self.rows, "the primary key refuses a second row"
        self.rows[pending.id] = StoredPending(pending, expires_at)

    def get(self, pending_id: str) -> StoredPending | None:
        return self.rows.get(pending_id)

    def update(self, pending: Pending) -> None:
        found = self.rows.get(pending.id)
        if found is not None:
            self.rows[pending.id] = StoredPending(pending, found.expires_at)

    def delete(self, pending_id: str) -> bool:
        return self.rows.pop(pending_id, None) is not None

    def purge(self, now: datetime) -> int:
        gone = [k for k, p in self.rows.items() if p.expires_at <= now]
        for k in gone:
            del self.rows[k]
        return len(gone)


@dataclass
class MemoryPushedRequests:
    rows: dict[str, StoredPush] = field(default_factory=dict)

    def add(self, uri_hash: str, push: StoredPush) -> None:
        assert uri_hash not in self.rows, "the primary key refuses a second row"
        self.rows[uri_hash] = push

    def take(self, uri_hash: str, client_id: str) -> StoredPush | None:
        found = self.rows.get(uri_hash)
        if found is None or found.client_id != client_id:
            return None
        return self.rows.pop(uri_hash)

    def purge(self, now: datetime) -> int:
        gone = [k for k, p in self.rows.items() if p.expires_at <= now]
        for k in gone:
            del self.rows[k]
        return len(gone)


@dataclass(frozen=True)
class OwedLogout:
    client_id: str
    url: str
    event_id: str
    payload: dict[str, Any]


@dataclass
class MemoryLogoutOutbox:
    owed: list[OwedLogout] = field(default_factory=list)

    def enqueue(
        self, *, agency: Agency, event_id: str, payload: dict[str, Any], at: datetime
    ) -> str:
        assert agency.backchannel_logout_uri
        self.owed.append(
            OwedLogout(agency.client_id, agency.backchannel_logout_uri, event_id, payload)
        )
        return f"whd_{len(self.owed)}"


@dataclass
class IdentityState:
    """One in-memory identity database: an ``IdentityWork``."""

    user_tokens: MemoryUserTokens = field(default_factory=MemoryUserTokens)
    agencies: MemoryAgencyRepository = field(default_factory=MemoryAgencyRepository)
    accounts: MemoryAccounts = field(default_factory=MemoryAccounts)
    signin_failures: MemorySigninFailures = field(default_factory=MemorySigninFailures)
    throttle_counters: MemoryThrottleCounters = field(default_factory=MemoryThrottleCounters)
    known_devices: MemoryKnownDevices = field(default_factory=MemoryKnownDevices)
    recovery_codes: MemoryRecoveryCodes = field(default_factory=MemoryRecoveryCodes)
    verification_tickets: MemoryVerificationTickets = field(
        default_factory=MemoryVerificationTickets
    )
    pending: MemoryPendingAuthorizations = field(default_factory=MemoryPendingAuthorizations)
    pushed_requests: MemoryPushedRequests = field(default_factory=MemoryPushedRequests)
    logout_outbox: MemoryLogoutOutbox = field(default_factory=MemoryLogoutOutbox)
    audit: MemoryAuditLog = field(default_factory=MemoryAuditLog)
    idempotency: MemoryIdempotencyKeys = field(default_factory=MemoryIdempotencyKeys)
    authorization_codes: MemoryAuthorizationCodes = field(default_factory=MemoryAuthorizationCodes)
    signing_keys: MemorySigningKeys = field(default_factory=MemorySigningKeys)
    assertions: MemoryAssertions = field(default_factory=MemoryAssertions)
    consents: MemoryConsents = field(init=False)
    browser_sessions: MemoryBrowserSessions = field(init=False)
    # Callbacks for after the commit of the unit of work under way.
    committed: list[Callable[[], None]] = field(default_factory=list)
    locks: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.consents = MemoryConsents(self.agencies, self.user_tokens)
        self.browser_sessions = MemoryBrowserSessions(self.user_tokens)

    def on_commit(self, callback: Callable[[], None]) -> None:
        self.committed.append(callback)

    def lock(self, name: str) -> None:
        self.locks.append(name)


class MemoryIdentityTransactions(FakeTransactions[IdentityState]):
    """``FakeTransactions`` that run ``on_commit`` callbacks after a commit
    (a rollback forgets them, with everything else)."""

    def __init__(self, state: IdentityState | None = None) -> None:
        super().__init__(state or IdentityState())

    @contextmanager
    def __call__(self) -> Iterator[IdentityState]:
        with super().__call__() as state:
            yield state
        callbacks, self.state.committed[:] = list(self.state.committed), []
        for callback in callbacks:
            callback()


@dataclass
class FakeHasher:
    """A password hasher with argon2id's interface and none of its cost; counts
    the checks made (real and decoy). Raising ``version`` makes older hashes
    want a rehash, as new argon2id parameters would."""

    version: int = 1
    checks: int = 0
    decoys: int = 0

    def hash(self, password: str) -> str:
        return f"fake{self.version}$" + password[::-1]

    def verify(self, password_hash: str, password: str) -> bool:
        self.checks += 1
        return password_hash.partition("$")[2] == password[::-1]

    def verify_decoy(self, password: str) -> None:
        self.decoys += 1

    def needs_rehash(self, password_hash: str) -> bool:
        return not password_hash.startswith(f"fake{self.version}$")


@dataclass(frozen=True)
class Posted:
    kind: Kind
    to: str
    language: str
    values: Mapping[str, str]


@dataclass
class FakePostbox:
    """Messages posted, in order (nothing is sent)."""

    can_send_sms: bool = True
    posted: list[Posted] = field(default_factory=list)

    def post(self, kind: Kind, to: str, language: str, values: Mapping[str, str]) -> object:
        self.posted.append(Posted(kind, to, language, dict(values)))
        return None

    def kinds(self) -> list[Kind]:
        return [p.kind for p in self.posted]


def account(
    email: str = "ada@example.org",
    password: str = "correct horse battery",
    *,
    at: datetime,
    hasher: FakeHasher | None = None,
    **fields: Any,
) -> Account:
    """An account as ``Accounts.create`` would store it."""
    return Account(
        id=fields.pop("id", "acc_" + email.split("@", 1)[0]),
        email=email,
        email_verified=fields.pop("email_verified", True),
        password_hash=(hasher or FakeHasher()).hash(password),
        created_at=at,
        updated_at=at,
        **fields,
    )
