"""Teams (one per agency the console manages) and their members."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from services.console.domain.roles import Role
from services.runtime.errors import FailedPrecondition, FieldViolation, InvalidArgument

MAX_TEAM_NAME = 200


@dataclass(frozen=True)
class Team:
    id: str
    agency_id: str  # identity's agency (its OAuth client id) this team manages
    name: str
    mode: str  # "test" or "live", as identity registered it
    created_at: datetime


@dataclass(frozen=True)
class NewAgency:
    """What identity answered to CreateAgency."""

    agency_id: str
    mode: str
    client_secret: str  # empty on a replay: identity never shows it twice


@dataclass(frozen=True)
class Member:
    team_id: str
    subject: str  # identity's sub for the console's agency
    email: str
    role: Role
    refunder: bool
    joined_at: datetime


def check_team_name(raw: str) -> str:
    name = " ".join(raw.split())
    if not name:
        raise InvalidArgument("name", [FieldViolation("name", "Enter the agency's name")])
    if len(name) > MAX_TEAM_NAME or not name.isprintable():
        raise InvalidArgument(
            "name",
            [FieldViolation("name", "The name must be 200 characters or fewer, without controls")],
        )
    return name


def check_keeps_an_administrator(
    members: Sequence[Member], subject: str, new_role: Role | None
) -> None:
    """A team always keeps at least one administrator: ``new_role`` None is a removal."""
    others = [m for m in members if m.subject != subject and m.role is Role.ADMINISTRATOR]
    if new_role is not Role.ADMINISTRATOR and not others:
        raise FailedPrecondition("A team must keep at least one administrator")
