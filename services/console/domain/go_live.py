"""Requests to go live: a team's administrator asks, with a reason and a
contact; a platform operator approves (identity's SetAgencyMode) or refuses
with a reason. One pending request per team at a time."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

from services.runtime.errors import FailedPrecondition, FieldViolation, InvalidArgument

State = Literal["pending", "approved", "refused"]
MAX_REASON = 1000
MAX_CONTACT = 200


@dataclass(frozen=True)
class GoLiveRequest:
    id: str
    team_id: str
    requested_by: str  # the administrator's email address
    reason: str
    contact: str
    state: State
    created_at: datetime
    decided_by: str | None = None  # the operator's email address
    decided_at: datetime | None = None
    decision_reason: str = ""

    def decide(self, approve: bool, operator: str, reason: str, now: datetime) -> GoLiveRequest:
        if self.state != "pending":
            raise FailedPrecondition("This request has already been decided")
        text = reason.strip()
        violations = _violations("decision_reason", text, MAX_REASON)
        if not approve and not text:
            violations.append(FieldViolation("decision_reason", "Give the reason for refusing"))
        if violations:
            raise InvalidArgument.from_violations(violations)
        return replace(
            self,
            state="approved" if approve else "refused",
            decided_by=operator,
            decided_at=now,
            decision_reason=text,
        )


def check_request(reason: str, contact: str) -> tuple[str, str]:
    """The request's reason and contact, cleaned; every problem at once."""
    cleaned = reason.strip(), contact.strip()
    violations = [
        *_violations("reason", cleaned[0], MAX_REASON),
        *_violations("contact", cleaned[1], MAX_CONTACT),
    ]
    if not cleaned[0]:
        violations.append(FieldViolation("reason", "Say what your service does"))
    if not cleaned[1]:
        violations.append(FieldViolation("contact", "Give a contact"))
    if violations:
        raise InvalidArgument.from_violations(violations)
    return cleaned


def _violations(field: str, text: str, limit: int) -> list[FieldViolation]:
    if len(text) > limit or any(not (c.isprintable() or c in "\r\n") for c in text):
        return [FieldViolation(field, "Too long, or has control characters")]
    return []
