"""The browsers a citizen signed in from and their recovery codes, in
identity's database (``KnownDevices``, ``RecoveryCodes``): only hashes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from services.identity.adapters.tables import known_devices, recovery_codes


class SqlKnownDevices:
    def __init__(self, session: Session) -> None:
        self.session = session

    def of_account(self, account_id: str) -> list[str]:
        t = known_devices
        found = self.session.execute(sa.select(t.c.device_hash).where(t.c.account_id == account_id))
        return list(found.scalars())

    def add(self, account_id: str, device_hash: str, at: datetime) -> None:
        self.session.execute(
            known_devices.insert().values(
                account_id=account_id, device_hash=device_hash, first_seen_at=at, last_seen_at=at
            )
        )

    def seen(self, account_id: str, device_hash: str, at: datetime) -> None:
        t = known_devices
        self.session.execute(
            t.update()
            .where(t.c.account_id == account_id, t.c.device_hash == device_hash)
            .values(last_seen_at=at)
        )


class SqlRecoveryCodes:
    def __init__(self, session: Session) -> None:
        self.session = session

    def replace(self, account_id: str, code_hashes: Sequence[str], at: datetime) -> None:
        t = recovery_codes
        self.session.execute(t.delete().where(t.c.account_id == account_id))
        if code_hashes:
            self.session.execute(
                t.insert(),
                [{"account_id": account_id, "code_hash": h, "created_at": at} for h in code_hashes],
            )

    def find(self, account_id: str, code_hash: str) -> tuple[bool, datetime | None]:
        t = recovery_codes
        row = self.session.execute(
            sa.select(t.c.used_at).where(t.c.account_id == account_id, t.c.code_hash == code_hash)
        ).first()
        return (False, None) if row is None else (True, row.used_at)

    def use(self, account_id: str, code_hash: str, at: datetime) -> None:
        t = recovery_codes
        self.session.execute(
            t.update()
            .where(t.c.account_id == account_id, t.c.code_hash == code_hash)
            .values(used_at=at)
        )

    def left(self, account_id: str) -> int:
        t = recovery_codes
        count = self.session.scalar(
            sa.select(sa.func.count())
            .select_from(t)
            .where(t.c.account_id == account_id, t.c.used_at.is_(None))
        )
        return int(count or 0)
