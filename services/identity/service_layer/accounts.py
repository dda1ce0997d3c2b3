"""Creating and looking after citizen accounts (operators, demo data, tests;
self-service registration comes with the citizen-accounts pages)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from services.identity.adapters import audit_log
from services.identity.adapters.accounts import SqlAccountRepository
from services.identity.adapters.passwords import Argon2PasswordHasher
from services.identity.domain.accounts import Account
from services.identity.domain.audit import EventType
from services.runtime.db import transaction
from services.runtime.db_types import utcnow
from services.runtime.errors import AlreadyExists, FieldViolation, InvalidArgument

MIN_PASSWORD = 8
MAX_PASSWORD = 256


class Accounts:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        hasher: Argon2PasswordHasher,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sessions = sessions
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
        with transaction(self._sessions) as session:
            repo = SqlAccountRepository(session)
            if repo.by_email(email) is not None:
                raise AlreadyExists("an account with this email address exists")
            repo.add(account)
            audit_log.record(session, EventType.REGISTERED, at=now, account_id=account.id)
        return account

    def delete(self, account_id: str) -> None:
        with transaction(self._sessions) as session:
            SqlAccountRepository(session).delete(account_id)

    def by_email(self, email: str) -> Account | None:
        with self._sessions() as session:
            return SqlAccountRepository(session).by_email(email)
