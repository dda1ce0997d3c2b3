"""Random values identity creates once and every replica shares."""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from services.identity.adapters.tables import instance_secrets
from services.runtime.db import advisory_lock, transaction


def get_or_create(sessions: sessionmaker[Session], name: str) -> bytes:
    with transaction(sessions) as session:
        advisory_lock(session, f"identity.instance_secrets.{name}")
        value = session.scalar(
            sa.select(instance_secrets.c.value).where(instance_secrets.c.name == name)
        )
        if value is None:
            value = secrets.token_hex(32)
            session.execute(instance_secrets.insert().values(name=name, value=value))
    return bytes.fromhex(value)
