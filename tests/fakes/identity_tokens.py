"""In-memory fakes of identity's token-side ports (service_layer/token_ports.py)
and of code tickets' store."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from services.identity.domain.agencies import Agency
from services.identity.domain.citizen_tokens import StoredCode, TokenRecord
from services.identity.domain.signing_keys import SigningKey
from tests.fakes.identity_records import MemoryAccounts, MemoryAuditLog, MemoryVerificationTickets
from tests.fakes.transactions import FakeTransactions


@dataclass
class MemoryAuthorizationCodes:
    rows: dict[str, StoredCode] = field(default_factory=dict)

    def add(self, code: StoredCode) -> None:
        assert code.code_hash not in self.rows, "the primary key refuses a second row"
        self.rows[code.code_hash] = code

    def get(self, code_hash: str, *, lock: bool = False) -> StoredCode | None:
        return self.rows.get(code_hash)

    def mark_used(self, code_hash: str, at: datetime) -> bool:
        code = self.rows.get(code_hash)
        if code is None or code.used_at is not None:
            return False
        self.rows[code_hash] = dataclasses.replace(code, used_at=at)
        return True


@dataclass
class MemoryUserTokens:
    rows: dict[str, TokenRecord] = field(default_factory=dict)

    def add(self, record: TokenRecord) -> None:
        assert record.id not in self.rows, "the primary key refuses a second row"
        self.rows[record.id] = record

    def get(self, token_id: str) -> TokenRecord | None:
        return self.rows.get(token_id)

    def _of_kind(self, token_id: str, kind: str) -> TokenRecord | None:
        record = self.rows.get(token_id)
        return record if record is not None and record.kind == kind else None

    def get_refresh(self, token_hash: str, *, lock: bool = False) -> TokenRecord | None:
        return self._of_kind(token_hash, "refresh")

    def get_access(self, jti: str) -> TokenRecord | None:
        return self._of_kind(jti, "access")

    def mark_used(self, token_id: str, at: datetime) -> None:
        if token_id in self.rows:
            self.rows[token_id] = dataclasses.replace(self.rows[token_id], used_at=at)

    def _revoke_where(self, at: datetime, **match: Any) -> int:
        revoked = 0
        for token_id, record in list(self.rows.items()):
            if record.revoked_at is None and all(getattr(record, k) == v for k, v in match.items()):
                self.rows[token_id] = dataclasses.replace(record, revoked_at=at)
                revoked += 1
        return revoked

    def revoke(self, token_id: str, at: datetime) -> int:
        return self._revoke_where(at, id=token_id)

    def revoke_code(self, code_hash: str, at: datetime) -> int:
        return self._revoke_where(at, code_hash=code_hash)

    def revoke_family(self, family: str, at: datetime) -> int:
        return self._revoke_where(at, family=family)

    def revoke_session(self, sid: str, at: datetime) -> int:
        return self._revoke_where(at, sid=sid)

    def revoke_account(self, account_id: str, at: datetime, client_id: str | None = None) -> int:
        if client_id is None:
            return self._revoke_where(at, account_id=account_id)
        return self._revoke_where(at, account_id=account_id, client_id=client_id)

    def clients_of_sessions(self, sids: Sequence[str]) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {sid: [] for sid in sids}
        for record in self.rows.values():
            if record.sid in found and record.client_id not in found[record.sid]:
                found[record.sid].append(record.client_id)
        return found


@dataclass
class MemorySigningKeys:
    rows: dict[str, SigningKey] = field(default_factory=dict)
    locks: int = 0

    def lock(self) -> None:
        self.locks += 1

    def all(self) -> Sequence[SigningKey]:
        return list(self.rows.values())

    def add(self, key: SigningKey) -> None:
        assert key.kid not in self.rows, "the primary key refuses a second row"
        self.rows[key.kid] = key

    def set_times(self, key: SigningKey) -> None:
        if key.kid in self.rows:
            self.rows[key.kid] = dataclasses.replace(
                self.rows[key.kid],
                activates_at=key.activates_at,
                retires_at=key.retires_at,
                expires_at=key.expires_at,
            )


@dataclass
class MemoryAssertions:
    rows: dict[tuple[str, str], datetime] = field(default_factory=dict)

    def first_use(self, client_id: str, jti: str, expires_at: datetime) -> bool:
        if (client_id, jti) in self.rows:
            return False
        self.rows[(client_id, jti)] = expires_at
        return True

    def purge(self, now: datetime) -> int:
        gone = [k for k, expires_at in self.rows.items() if expires_at < now]
        for k in gone:
            del self.rows[k]
        return len(gone)


@dataclass
class TokenState:
    """One in-memory identity store for the token side (``TokenWork`` and ``KeyWork``)."""

    authorization_codes: MemoryAuthorizationCodes = field(default_factory=MemoryAuthorizationCodes)
    user_tokens: MemoryUserTokens = field(default_factory=MemoryUserTokens)
    accounts: MemoryAccounts = field(default_factory=MemoryAccounts)
    audit: MemoryAuditLog = field(default_factory=MemoryAuditLog)
    signing_keys: MemorySigningKeys = field(default_factory=MemorySigningKeys)
    assertions: MemoryAssertions = field(default_factory=MemoryAssertions)
    verification_tickets: MemoryVerificationTickets = field(
        default_factory=MemoryVerificationTickets
    )


def token_transactions() -> FakeTransactions[TokenState]:
    return FakeTransactions(TokenState())


@dataclass
class MemoryAgencies:
    """The registry's ``find_active`` over a dict."""

    rows: dict[str, Agency] = field(default_factory=dict)

    def find_active(self, client_id: str) -> Agency | None:
        agency = self.rows.get(client_id)
        return agency if agency is not None and agency.disabled_at is None else None

    def authenticate_secret(self, agency: Agency, secret: str) -> bool:
        return agency.check_secret(secret)
