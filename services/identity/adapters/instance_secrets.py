"""Random values identity creates once and every replica shares (the pairwise
salt, the CSRF key, the security-code key), sealed at rest like every other
secret when identity has a key-encryption key (``sealing.NamedSecrets``)."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from services.identity.adapters.tables import instance_secrets
from services.runtime.db import transaction
from services.runtime.sealing import NamedSecrets


def get_or_create(sessions: sessionmaker[Session], name: str) -> bytes:
    with transaction(sessions) as session:
        return bytes.fromhex(secrets(session).get_or_create(name))


def secrets(session: Session) -> NamedSecrets:
    return NamedSecrets(session, instance_secrets)
