"""payments' secrets at rest: its own secrets (the page-link and CSRF keys) and
agencies' webhook signing secrets, sealed with ``PAYMENTS_KEY_ENCRYPTION_KEY``
when one is set (``services.runtime.sealing``), and sealed once, at the first
start with a key, if they were stored before it."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from services.payments.adapters import tables as t
from services.runtime import sealing
from services.runtime.db import advisory_lock, transaction
from services.runtime.errors import StartupError


def open_sealed(sessions: sessionmaker[Session], sealer: sealing.Sealer, *, live: bool) -> None:
    """Check the key against the database and seal what predates it. ``live``
    (a live-mode Stripe key is set: real money) refuses to run without a key."""
    if live and not sealer.enabled:
        raise StartupError(
            "PAYMENTS_STRIPE_API_KEY is a live-mode key: set PAYMENTS_KEY_ENCRYPTION_KEY "
            "(base64 of 32 random bytes) so webhook and page-link secrets are sealed at rest"
        )
    with transaction(sessions) as session:
        advisory_lock(session, "payments.sealing")
        own = secrets(session)
        subs = t.webhook_subscriptions
        sealing.seal_once(
            sealer,
            own,
            lambda: (
                own.seal_unsealed() + sealing.seal_column(session, subs, subs.c.id, subs.c.secret)
            ),
        )


def service_secret(sessions: sessionmaker[Session], name: str) -> str:
    """A secret generated once and shared by every replica through the database."""
    with transaction(sessions) as session:
        return secrets(session).get_or_create(name)


def secrets(session: Session) -> sealing.NamedSecrets:
    return sealing.NamedSecrets(session, t.service_secrets)
