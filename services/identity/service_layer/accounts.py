"""Creating and looking after citizen accounts (operators, demo data, tests;
self-service registration comes with the citizen-accounts pages)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from services.identity.domain.accounts import Account
from services.identity.domain.audit import EventType
from services.identity.service_layer.account_ports import PasswordHasher
from services.identity.service_layer.unit_of_work import IdentityTransactions
from services.runtime.clock import Clock, utcnow
from services.runtime.errors import AlreadyExists, FieldViolation, InvalidArgument

MIN_PASSWORD = 8
MAX_PASSWORD = 256


class Accounts:
    def __init__(
        self,
        uow: IdentityTransactions,
        hasher: PasswordHasher,
        clock: Clock = utcnow,
    ) -> None:
        self._uow = uow
        self._hasher = hasher
        self._clock = clock

    def create(
        self,
        *,
        email: str,
        password: str,
        email_verified: bool = False,
        totp_secret: str | None = None,
        given_name: str | None = None,
        family_name: str | None = None,
        phone_number: str | None = None,
        address: Mapping[str, str] | None = None,
        locale: str | None = None,
    ) -> Account:
        email = email.strip().lower()
        violations = []
        if "@" not in email or len(email) > 320:
            violations.append(FieldViolation("email", "a valid email address"))
        if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
            violations.append(
                FieldViolation("password", f"{MIN_PASSWORD} to {MAX_PASSWORD} characters")
            )
        if violations:
            raise InvalidArgument.from_violations(violations)
        now = self._clock()
        account = Account(
            id="acc_" + uuid.uuid4().hex,
            email=email,
            email_verified=email_verified,
            password_hash=self._hasher.hash(password),
            created_at=now,
            updated_at=now,
            totp_secret=totp_secret,
            given_name=given_name,
            family_name=family_name,
            phone_number=phone_number,
            phone_number_verified=phone_number is not None,
            address=address,
            locale=locale,
        )
        with self._uow() as uow:
            if uow.accounts.by_email(email) is not None:
                raise AlreadyExists("an account with this email address exists")
            uow.accounts.add(account)
            uow.audit.record(EventType.REGISTERED, at=now, account_id=account.id)
        return account

    def delete(self, account_id: str) -> None:
        with self._uow() as uow:
            uow.accounts.delete(account_id)

    def by_email(self, email: str) -> Account | None:
        with self._uow.read() as uow:
            return uow.accounts.by_email(email)
