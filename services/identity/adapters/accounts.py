"""Citizen accounts in identity's database.

TOTP secrets are sealed at rest (``services.runtime.sealing``, bound to the
account id) when identity has a key-encryption key: the sealer rides on the
session's ``info``, set once by ``open_identity``, so every repository made
from a session seals and unseals without being told.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from services.identity.adapters.tables import accounts
from services.identity.domain.accounts import Account
from services.runtime import sealing
from services.runtime.sealing import PREFIX, Sealer


class SqlAccountRepository:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.sealer: Sealer = sealing.of(session)

    def add(self, account: Account) -> None:
        self.session.execute(accounts.insert().values(**self._row(account)))

    def get(self, account_id: str) -> Account | None:
        row = self.session.execute(sa.select(accounts).where(accounts.c.id == account_id)).first()
        return self._account(row._mapping) if row else None

    def get_for_update(self, account_id: str) -> Account | None:
        """The account, locked for the rest of the transaction on PostgreSQL (SQLite's
        write lock already serialises writers)."""
        query = sa.select(accounts).where(accounts.c.id == account_id)
        if self.session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update()
        row = self.session.execute(query).first()
        return self._account(row._mapping) if row else None

    def by_email(self, email: str, *, for_update: bool = False) -> Account | None:
        query = sa.select(accounts).where(accounts.c.email == email.strip().lower())
        if for_update and self.session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update()
        row = self.session.execute(query).first()
        return self._account(row._mapping) if row else None

    def delete(self, account_id: str) -> None:
        self.session.execute(accounts.delete().where(accounts.c.id == account_id))

    def update(self, account: Account) -> None:
        values = self._row(account)
        del values["id"]
        self.session.execute(accounts.update().where(accounts.c.id == account.id).values(**values))

    def seal_unsealed(self) -> int:
        """Seal TOTP secrets stored before a key-encryption key was configured
        (``sealing.seal_once``, at the first start with a key).

        Each row is rewritten only if its secret is still the one read, so a
        citizen enrolling a new authenticator meanwhile keeps the new one."""
        if not self.sealer.enabled:
            return 0
        c = accounts.c
        rows = self.session.execute(
            sa.select(c.id, c.totp_secret).where(
                c.totp_secret.is_not(None), sa.not_(c.totp_secret.startswith(PREFIX))
            )
        ).all()
        for account_id, secret in rows:
            self.session.execute(
                accounts.update()
                .where(c.id == account_id, c.totp_secret == secret)
                .values(totp_secret=self.sealer.seal_text(secret, account_id))
            )
        return len(rows)

    def _row(self, account: Account) -> dict[str, Any]:
        row = _row(account)
        if account.totp_secret is not None:
            row["totp_secret"] = self.sealer.seal_text(account.totp_secret, account.id)
        return row

    def _account(self, row: Any) -> Account:
        account = _account(row)
        if account.totp_secret is None:
            return account
        secret = self.sealer.unseal_text(account.totp_secret, account.id)
        return replace(account, totp_secret=secret)


def _row(account: Account) -> dict[str, Any]:
    return {
        "id": account.id,
        "email": account.email,
        "email_verified": account.email_verified,
        "password_hash": account.password_hash,
        "totp_secret": account.totp_secret,
        "totp_last_step": account.totp_last_step,
        "given_name": account.given_name,
        "family_name": account.family_name,
        "phone_number": account.phone_number,
        "phone_number_verified": account.phone_number_verified,
        "address": dict(account.address) if account.address else None,
        "locale": account.locale,
        "failed_second_factor": account.failed_second_factor,
        "second_factor_locks": account.second_factor_locks,
        "locked_until": account.locked_until,
        "created_at": account.created_at,
        "updated_at": account.updated_at,
    }


def _account(row: Any) -> Account:
    return Account(
        id=row["id"],
        email=row["email"],
        email_verified=row["email_verified"],
        password_hash=row["password_hash"],
        totp_secret=row["totp_secret"],
        totp_last_step=row["totp_last_step"],
        given_name=row["given_name"],
        family_name=row["family_name"],
        phone_number=row["phone_number"],
        phone_number_verified=row["phone_number_verified"],
        address=row["address"],
        locale=row["locale"],
        failed_second_factor=row["failed_second_factor"],
        second_factor_locks=row["second_factor_locks"],
        locked_until=row["locked_until"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )
