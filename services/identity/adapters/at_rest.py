"""identity's secrets at rest: sealed once when a key-encryption key is first
set, and no live agency served without one.

Sealed: signing keys' private keys, citizens' TOTP secrets and the instance
secrets (pairwise salt, CSRF key, security-code key). At the first start with
``IDENTITY_KEY_ENCRYPTION_KEY`` every one stored unsealed is sealed, under a
lock, so replicas starting together do it once (``sealing.seal_once``).
"""

from __future__ import annotations

import sqlalchemy as sa
from cryptography.exceptions import InvalidTag
from sqlalchemy.orm import Session, sessionmaker

from services.identity.adapters import instance_secrets
from services.identity.adapters.accounts import SqlAccountRepository
from services.identity.adapters.repositories import SqlKeyRepository
from services.identity.adapters.tables import accounts, agencies
from services.runtime import sealing
from services.runtime.db import advisory_lock, transaction
from services.runtime.errors import StartupError


def open_sealed(sessions: sessionmaker[Session], sealer: sealing.Sealer) -> None:
    """Check the key against the database and seal what predates it."""
    with transaction(sessions) as session:
        advisory_lock(session, "identity.sealing")
        sealing.seal_once(
            sealer, instance_secrets.secrets(session), lambda: _seal_all(session, sealer)
        )


def refuse_live_without_key(sessions: sessionmaker[Session], *, sealed: bool) -> None:
    """The service does not serve live agencies with their signing keys and
    citizens' secrets in the clear. (``gaap-admin`` still opens such a database,
    so an operator can set an agency back to test or read what is there.)"""
    if sealed:
        return
    with sessions() as session:
        live = session.scalar(
            sa.select(sa.func.count()).select_from(agencies).where(agencies.c.mode == "live")
        )
    if live:
        raise StartupError(
            "identity has live agencies: set IDENTITY_KEY_ENCRYPTION_KEY (base64 of 32 "
            "random bytes) so signing keys and citizens' secrets are sealed at rest"
        )


def _seal_all(session: Session, sealer: sealing.Sealer) -> int:
    sealed = (
        SqlKeyRepository(session, sealer).seal_unsealed()
        + SqlAccountRepository(session).seal_unsealed()
        + instance_secrets.secrets(session).seal_unsealed()
    )
    _opens(session, sealer)
    return sealed


def _opens(session: Session, sealer: sealing.Sealer) -> None:
    """Before the check value is recorded: the key opens what an earlier
    version sealed without one (every signing key, and a TOTP secret), so a
    wrong key is refused here rather than recorded as the right one."""
    SqlKeyRepository(session, sealer).all()  # a wrong key: StartupError
    sample = session.scalar(
        sa.select(accounts.c.id).where(accounts.c.totp_secret.startswith(sealing.PREFIX)).limit(1)
    )
    if sample is None:
        return
    try:
        SqlAccountRepository(session).get(sample)
    except InvalidTag:
        raise StartupError(
            f"{sealer.setting} is not the key it was sealed with (a TOTP secret does not open)"
        ) from None
