"""The repositories identity's token use cases speak to, as ports.

The SQL implementations are ``adapters/token_store.py`` and
``adapters/repositories.py``; the tests' in-memory ones are
``tests/fakes/identity_tokens.py``. Each use case asks only for the part of
identity's unit of work it uses (``TokenWork``, ``KeyWork``), so any unit of
work that has those repositories will do.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from services.identity.domain.accounts import Account
from services.identity.domain.agencies import Agency
from services.identity.domain.audit import EventType
from services.identity.domain.citizen_tokens import StoredCode, TokenRecord
from services.identity.domain.one_time_codes import Purpose
from services.identity.domain.signing_keys import SigningKey
from services.identity.domain.verification_tickets import LoadedTicket


class AuthorizationCodeStore(Protocol):
    def add(self, code: StoredCode) -> None: ...

    def get(self, code_hash: str, *, lock: bool = False) -> StoredCode | None:
        """With ``lock``, held until the transaction ends (a racing redemption waits)."""
        ...

    def mark_used(self, code_hash: str, at: datetime) -> bool:
        """Mark an unused code used; False if another redemption got there first."""
        ...


class UserTokenStore(Protocol):
    def add(self, record: TokenRecord) -> None: ...

    def get(self, token_id: str) -> TokenRecord | None: ...

    def get_refresh(self, token_hash: str, *, lock: bool = False) -> TokenRecord | None: ...

    def get_access(self, jti: str) -> TokenRecord | None: ...

    def mark_used(self, token_id: str, at: datetime) -> None: ...

    # Each revokes the tokens not yet revoked and returns how many it revoked.
    def revoke(self, token_id: str, at: datetime) -> int: ...

    def revoke_code(self, code_hash: str, at: datetime) -> int:
        """Every token issued from one authorization code."""
        ...

    def revoke_family(self, family: str, at: datetime) -> int: ...

    def revoke_session(self, sid: str, at: datetime) -> int: ...

    def revoke_account(self, account_id: str, at: datetime, client_id: str | None = None) -> int:
        """Every token of an account (with ``client_id``: only that agency's)."""
        ...

    def clients_of_sessions(self, sids: Sequence[str]) -> dict[str, list[str]]:
        """The agencies that received tokens in each of ``sids``."""
        ...


class VerificationTicketStore(Protocol):
    """Code tickets (``code_tickets.py``)."""

    def add(self, loaded: LoadedTicket, language: str) -> None: ...

    def get(self, ticket_id: str, purpose: Purpose, *, lock: bool = False) -> LoadedTicket | None:
        """With ``lock``, held until the transaction ends."""
        ...

    def count_wrong(self, ticket_id: str) -> None:
        """One more wrong attempt."""
        ...

    def mark(self, ticket_id: str, **values: datetime) -> None: ...

    def purge(self, expired_before: datetime) -> int: ...


class AccountReader(Protocol):
    def get(self, account_id: str) -> Account | None: ...


class AuditRecorder(Protocol):
    def record(
        self,
        type: EventType,
        *,
        at: datetime,
        account_id: str | None = None,
        client_id: str | None = None,
        ip: str | None = None,
        **details: Any,
    ) -> object: ...


class SigningKeyStore(Protocol):
    def lock(self) -> None:
        """Serialise key changes across replicas until the transaction ends."""
        ...

    def all(self) -> Sequence[SigningKey]: ...

    def add(self, key: SigningKey) -> None: ...

    def set_times(self, key: SigningKey) -> None: ...


class AssertionLedger(Protocol):
    """Client-assertion ids seen, to refuse a replay (RFC 7523 §3)."""

    def first_use(self, client_id: str, jti: str, expires_at: datetime) -> bool: ...

    def purge(self, now: datetime) -> int: ...


class TokenWork(Protocol):
    """What the citizen-token use cases use of identity's unit of work."""

    @property
    def authorization_codes(self) -> AuthorizationCodeStore: ...

    @property
    def user_tokens(self) -> UserTokenStore: ...

    @property
    def accounts(self) -> AccountReader: ...

    @property
    def audit(self) -> AuditRecorder: ...


class KeyWork(Protocol):
    """What the key store uses of identity's unit of work."""

    @property
    def signing_keys(self) -> SigningKeyStore: ...

    @property
    def audit(self) -> AuditRecorder: ...


class ActiveAgencies(Protocol):
    """The registry as the token side reads it (``agencies.AgencyRegistry``)."""

    def find_active(self, client_id: str) -> Agency | None: ...


class ClientRegistry(ActiveAgencies, Protocol):
    """The registry as the token endpoint authenticates agencies with it."""

    def authenticate_secret(self, agency: Agency, secret: str) -> bool:
        """Whether ``secret`` is one of the agency's live secrets (its use noted)."""
        ...
