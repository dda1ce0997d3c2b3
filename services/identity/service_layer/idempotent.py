"""Idempotency keys for identity's mutating operator calls.

The stored response is the id of the resource the call produced (an agency's
client id, an account id): a replay re-reads that resource as it is now. So a
replay of ``CreateAgency`` never returns the client secret, which exists in
clear only in the first response.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from services.identity.adapters.tables import idempotency_keys
from services.runtime.idempotency import IdempotencyKeys


@dataclass(frozen=True)
class Keyed:
    """A call's idempotency key, scoped to the calling agency (``tenant``), and
    the fingerprint of the rest of its request."""

    tenant: str
    key: str
    fingerprint: str


def replayed(session: Session, keyed: Keyed | None) -> str | None:
    """Claim the key in this transaction; the earlier result's id on a replay."""
    if keyed is None:
        return None
    stored = IdempotencyKeys(session, idempotency_keys).claim(
        keyed.tenant, keyed.key, keyed.fingerprint
    )
    return None if stored is None else stored.decode()


def remember(session: Session, keyed: Keyed | None, resource_id: str) -> None:
    if keyed is not None:
        IdempotencyKeys(session, idempotency_keys).complete(
            keyed.tenant, keyed.key, resource_id.encode()
        )
