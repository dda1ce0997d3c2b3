"""Secrets at rest sealed with a key-encryption key (AES-256-GCM), for every service.

With a key-encryption key set (``<SERVICE>_KEY_ENCRYPTION_KEY``: base64 of 32
random bytes) a service stores its secrets sealed, each bound to a context (a
key id, an account id, a secret's name), so a sealed value copied to another
row does not open. Once a key is set, a value found unsealed is refused: a
plaintext written into the database by someone without the key (their own
signing key, a TOTP secret they know) is never used.

Values stored before the key was set are sealed once, by ``seal_once`` at the
first start with the key, which then records a sealed check value: from then
on the check value proves the key is the right one, and nothing unsealed is
sealed again.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import secrets
from collections.abc import Callable
from typing import Protocol

import sqlalchemy as sa
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy.orm import Session

from services.runtime.db import advisory_lock
from services.runtime.errors import StartupError

log = logging.getLogger(__name__)

PREFIX = "sealed:v1:"
_PREFIX = PREFIX.encode()
# Where a service's sealer rides on its sessions (``sessionmaker.configure(info=...)``),
# so every repository made from a session seals and unseals without being told.
SESSION_KEY = "gaap.sealer"
CHECK_NAME = "key_check"
_CHECK_PLAINTEXT = b"gaap key-encryption key check"


class UnsealedSecret(Exception):
    """A secret was stored unsealed although a key-encryption key is set."""


class Sealer:
    def __init__(self, kek: bytes | None, setting: str = "KEY_ENCRYPTION_KEY") -> None:
        if kek is not None and len(kek) != 32:
            raise ValueError("the key-encryption key must be 32 bytes")
        self._aead = AESGCM(kek) if kek else None
        self.setting = setting

    @classmethod
    def from_setting(cls, value: str, setting: str) -> Sealer:
        """From the base64 setting named ``setting``; an unusable value stops the
        process at start."""
        if not value:
            return cls(None, setting)
        try:
            kek = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise StartupError(f"{setting} is not base64") from None
        if len(kek) != 32:
            raise StartupError(f"{setting} must decode to 32 bytes")
        return cls(kek, setting)

    @property
    def enabled(self) -> bool:
        return self._aead is not None

    def seal(self, plaintext: bytes, context: bytes) -> bytes:
        """``context`` is authenticated: a sealed value copied to another row does not open."""
        if self._aead is None:
            return plaintext
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, plaintext, context)
        return _PREFIX + base64.urlsafe_b64encode(nonce + sealed)

    def unseal(self, stored: bytes, context: bytes) -> bytes:
        if not stored.startswith(_PREFIX):
            if self._aead is not None:
                raise UnsealedSecret(
                    f"a secret ({context.decode(errors='replace')}) is stored unsealed although "
                    f"{self.setting} is set: refused"
                )
            return stored
        if self._aead is None:
            raise StartupError(f"the database holds sealed secrets: set {self.setting}")
        raw = base64.urlsafe_b64decode(stored[len(_PREFIX) :])
        return self._aead.decrypt(raw[:12], raw[12:], context)

    def seal_text(self, plaintext: str, context: str) -> str:
        return self.seal(plaintext.encode(), context.encode()).decode()

    def unseal_text(self, stored: str, context: str) -> str:
        return self.unseal(stored.encode(), context.encode()).decode()


_PLAIN = Sealer(None)


def of(session: Session) -> Sealer:
    """The sealer configured on ``session``'s factory (none: stored as they are)."""
    sealer: Sealer = session.info.get(SESSION_KEY, _PLAIN)
    return sealer


class CheckStore(Protocol):
    """Where a service keeps its sealed check value (a row of its secrets table)."""

    def read_check(self) -> str | None: ...
    def write_check(self, value: str) -> None: ...


def seal_once(sealer: Sealer, store: CheckStore, seal_existing: Callable[[], int]) -> int:
    """Run inside the transaction (and cross-replica lock) that reads the secrets.

    With a key: check it against the stored check value; if there is none yet
    (the first start with a key), seal every value stored unsealed with
    ``seal_existing`` and record the check value. Returns how many were sealed.
    Without a key: a database that has been sealed cannot be opened.
    """
    check = store.read_check()
    if not sealer.enabled:
        if check is not None:
            raise StartupError(f"the database holds sealed secrets: set {sealer.setting}")
        return 0
    if check is not None:
        try:
            sealer.unseal(check.encode(), CHECK_NAME.encode())
        except InvalidTag:
            raise StartupError(
                f"{sealer.setting} is not the key it was sealed with (the database's check value "
                "does not open)"
            ) from None
        return 0
    sealed = seal_existing()
    store.write_check(sealer.seal_text(_CHECK_PLAINTEXT.decode(), CHECK_NAME))
    log.warning(
        "sealed secrets stored before a key-encryption key was set", extra={"sealed": sealed}
    )
    return sealed


class NamedSecrets:
    """A service's table of random values it makes once and every replica shares
    (columns ``name`` and ``value``), each sealed with its name as context; its
    row ``CHECK_NAME`` holds ``seal_once``'s check value."""

    def __init__(self, session: Session, table: sa.Table) -> None:
        self.session = session
        self.table = table
        self.sealer = of(session)

    def get_or_create(self, name: str) -> str:
        """The value named ``name`` (64 hex digits), made on first use."""
        advisory_lock(self.session, f"{self.table.name}.{name}")
        stored = self._read(name)
        if stored is not None:
            return self.sealer.unseal_text(stored, name)
        value = secrets.token_hex(32)
        self.session.execute(
            self.table.insert().values(name=name, value=self.sealer.seal_text(value, name))
        )
        return value

    def read_check(self) -> str | None:
        return self._read(CHECK_NAME)

    def write_check(self, value: str) -> None:
        self.session.execute(self.table.insert().values(name=CHECK_NAME, value=value))

    def seal_unsealed(self) -> int:
        c = self.table.c
        return seal_column(self.session, self.table, c.name, c.value, c.name != CHECK_NAME)

    def _read(self, name: str) -> str | None:
        c = self.table.c
        value: str | None = self.session.scalar(sa.select(c.value).where(c.name == name))
        return value


def seal_column(
    session: Session,
    table: sa.Table,
    context: sa.Column[str],
    column: sa.Column[str],
    *where: sa.ColumnElement[bool],
) -> int:
    """Seal every value of ``column`` stored unsealed, each bound to its row's
    ``context`` column; rewritten only if unchanged since read. For ``seal_once``."""
    sealer = of(session)
    rows = session.execute(
        sa.select(context, column).where(
            column.is_not(None), sa.not_(column.startswith(PREFIX)), *where
        )
    ).all()
    for key, value in rows:
        session.execute(
            table.update()
            .where(context == key, column == value)
            .values({column.name: sealer.seal_text(value, key)})
        )
    return len(rows)
