"""notify's secrets at rest: agencies' status-callback signing secrets, sealed
with ``NOTIFY_KEY_ENCRYPTION_KEY`` when one is set (``services.runtime.sealing``),
and sealed once, at the first start with a key, if they were stored before it."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from services.notify.adapters import tables as t
from services.runtime import sealing
from services.runtime.db import advisory_lock, transaction


def service_secret(sessions: sessionmaker[Session], name: str) -> bytes:
    """A random secret made once and shared by every replica through the database."""
    with transaction(sessions) as session:
        return bytes.fromhex(sealing.NamedSecrets(session, t.service_secrets).get_or_create(name))


def open_sealed(sessions: sessionmaker[Session], sealer: sealing.Sealer) -> None:
    """Check the key against the database (its sealed check value) and seal the
    secrets stored before it; without a key, refuse a database that was sealed."""
    with transaction(sessions) as session:
        advisory_lock(session, "notify.sealing")
        callbacks = t.status_callbacks
        sealing.seal_once(
            sealer,
            sealing.NamedSecrets(session, t.service_secrets),
            lambda: sealing.seal_column(session, callbacks, callbacks.c.id, callbacks.c.secret),
        )
