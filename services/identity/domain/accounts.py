"""Citizen accounts and the claims they can release (OpenID Connect Core §5.1)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from services.identity.domain.disclosure import PERSONAL_CLAIMS, PROTOCOL_CLAIMS

SUPPORTED_CLAIMS: tuple[str, ...] = (PROTOCOL_CLAIMS[0], *PERSONAL_CLAIMS, *PROTOCOL_CLAIMS[1:])


@dataclass(frozen=True)
class Account:
    id: str
    email: str
    email_verified: bool
    password_hash: str
    created_at: datetime
    updated_at: datetime
    totp_secret: str | None = None
    totp_last_step: int | None = None
    given_name: str | None = None
    family_name: str | None = None
    phone_number: str | None = None
    phone_number_verified: bool = False
    address: Mapping[str, str] | None = None
    locale: str | None = None
    # Wrong second-factor answers in a row (wrong passwords are counted per
    # address: domain.lockout).
    failed_second_factor: int = 0
    # Second-factor locks in a row without a completed sign-in between (each
    # lasts longer: domain.lockout).
    second_factor_locks: int = 0
    locked_until: datetime | None = None

    @property
    def has_second_factor(self) -> bool:
        return self.totp_secret is not None

    @property
    def has_sms_factor(self) -> bool:
        """A proved mobile number: codes texted to it are a second factor (when
        the deployment can send texts)."""
        return self.phone_number is not None and self.phone_number_verified

    def locked(self, now: datetime) -> bool:
        return self.locked_until is not None and now < self.locked_until

    def claims(self) -> dict[str, Any]:
        """Every claim this account can release, before any scope filtering."""
        name = " ".join(p for p in (self.given_name, self.family_name) if p) or None
        values: dict[str, Any] = {
            "name": name,
            "given_name": self.given_name,
            "family_name": self.family_name,
            "locale": self.locale,
            "updated_at": int(self.updated_at.timestamp()),
            "email": self.email,
            "email_verified": self.email_verified,
            "phone_number": self.phone_number,
            "phone_number_verified": self.phone_number_verified if self.phone_number else None,
            "address": dict(self.address) if self.address else None,
        }
        return {k: v for k, v in values.items() if v is not None}


class PasswordHasher(Protocol):
    def hash(self, password: str) -> str: ...
    def verify(self, password_hash: str, password: str) -> bool: ...
    def needs_rehash(self, password_hash: str) -> bool: ...


def released_claims(account: Account, names: Iterable[str]) -> dict[str, Any]:
    """The values of the claims ``names`` (decided by ``disclosure.releasable``)
    that the account has; never more than it has."""
    available = account.claims()
    return {k: available[k] for k in sorted(set(names)) if k in available}
