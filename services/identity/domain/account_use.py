"""What a citizen's account page shows of the agencies it consented to."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class ConsentedAgency:
    """One consent as stored, with its agency's name and registered scopes (None
    once the agency is gone) and the last sign-in there (tokens' auth time)."""

    client_id: str
    name: str | None
    scopes: tuple[str, ...]
    claims: tuple[str, ...]
    registered: tuple[str, ...] | None
    granted_at: datetime
    last_signed_in: datetime | None


@dataclass(frozen=True)
class AgencyUse:
    client_id: str
    name: str
    scopes: tuple[str, ...]
    claims: tuple[str, ...]  # the personal claims it may receive (disclosure.py)
    granted_at: datetime
    last_signed_in: datetime | None
