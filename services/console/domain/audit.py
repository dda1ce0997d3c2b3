"""The audit trail: who did what, in which team, when.

``details`` holds identifiers and choices (a role, an agency id), never a secret
nor anyone's personal data beyond the actor's own email address.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class AuditEntry:
    team_id: str
    actor_email: str
    action: str  # an Action value, or a sign-in/out event
    at: datetime
    details: dict[str, str] = field(default_factory=dict)
    id: str = ""
