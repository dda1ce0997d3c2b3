"""Invitations: sent through notify, accepted once, within 7 days, by the person
invited (their verified email as identity reports it)."""

from __future__ import annotations

import pytest

from services.console.domain.invitations import check_email
from services.console.domain.roles import Role
from services.runtime.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
)
from tests.unit.console.support import Console, staff


def team_with_invitation(role: Role = Role.DEVELOPER) -> tuple[Console, str, str]:
    console = Console()
    team = console.teams.sign_up(staff("ada"), "Parks", "req-1").team.id
    console.invitations.invite(staff("ada"), team, " Bob@Agency.Example ", role, True, "zh-Hans")
    token = console.mailer.sent[-1]["link"].rsplit("/", 1)[1]
    return console, team, token


def test_an_invitation_is_mailed_with_a_link_whose_token_is_stored_only_hashed() -> None:
    console, team, token = team_with_invitation()
    [mail] = console.mailer.sent
    assert mail == {
        "to": "bob@agency.example",
        "team": "Parks",
        "inviter": "ada@agency.example",
        "link": f"https://console.test/invitations/{token}",
        "language": "zh-Hans",
    }
    [invitation] = console.work.invitations.rows.values()
    assert token not in repr(invitation)
    entry = console.work.audit.of_team(team)[0]
    assert entry.details == {"invitation": invitation.id, "role": "developer"}
    assert "bob" not in repr(entry), "the invitee's address is not in the audit trail"


def test_the_invited_person_accepts_once_with_the_role_and_permission_given() -> None:
    console, team, token = team_with_invitation()
    assert console.invitations.preview(token)[1].id == team
    console.invitations.accept(staff("bob"), token)
    bob = console.work.members.get(team, "sub-bob")
    assert bob is not None
    assert (bob.role, bob.refunder, bob.email) == (Role.DEVELOPER, True, "bob@agency.example")
    assert console.work.invitations.pending(team, console.clock()) == []
    with pytest.raises(NotFound):
        console.invitations.accept(staff("bob"), token)
    with pytest.raises(NotFound):
        console.invitations.preview(token)


def test_someone_else_or_an_unverified_address_cannot_accept() -> None:
    console, team, token = team_with_invitation()
    with pytest.raises(PermissionDenied):
        console.invitations.accept(staff("eve"), token)
    with pytest.raises(PermissionDenied):
        console.invitations.accept(staff("bob", verified=False), token)
    assert console.work.members.get(team, "sub-eve") is None
    assert console.work.members.get(team, "sub-bob") is None
    assert len(console.work.invitations.pending(team, console.clock())) == 1


def test_an_invitation_expires_after_seven_days() -> None:
    console, team, token = team_with_invitation()
    console.clock.advance(days=7, seconds=-1)
    assert console.invitations.preview(token)
    console.clock.advance(seconds=1)
    with pytest.raises(NotFound):
        console.invitations.accept(staff("bob"), token)
    assert console.work.invitations.pending(team, console.clock()) == []
    assert console.work.members.get(team, "sub-bob") is None


def test_a_wrong_token_is_not_found() -> None:
    console, _, token = team_with_invitation()
    with pytest.raises(NotFound):
        console.invitations.accept(staff("bob"), token[:-1] + ("A" if token[-1] != "A" else "B"))


@pytest.mark.parametrize("role", [Role.DEVELOPER, Role.SENDER, Role.VIEWER])
def test_only_administrators_invite(role: Role) -> None:
    console, team, token = team_with_invitation(role)
    console.invitations.accept(staff("bob"), token)
    with pytest.raises(PermissionDenied):
        console.invitations.invite(staff("bob"), team, "cy@agency.example", role, False, "en")
    assert len(console.mailer.sent) == 1


def test_inviting_a_member_again_or_a_bad_address_sends_nothing() -> None:
    console, team, token = team_with_invitation()
    console.invitations.accept(staff("bob"), token)
    with pytest.raises(AlreadyExists):
        console.invitations.invite(
            staff("ada"), team, "bob@agency.example", Role.VIEWER, False, "en"
        )
    for bad in ("", "bob", "bob@", "a b@c.d", "bob@例子.测试", "x" * 250 + "@a.bc"):
        with pytest.raises(InvalidArgument):
            console.invitations.invite(staff("ada"), team, bad, Role.VIEWER, False, "en")
    assert len(console.mailer.sent) == 1


def test_a_member_accepting_again_is_refused() -> None:
    console, team, _ = team_with_invitation()
    console.invitations.invite(staff("ada"), team, "ada2@agency.example", Role.VIEWER, False, "en")
    token = console.mailer.sent[-1]["link"].rsplit("/", 1)[1]
    ada = staff("ada")
    twin = type(ada)(ada.subject, "ada2@agency.example", True, "Ada")
    with pytest.raises(FailedPrecondition):
        console.invitations.accept(twin, token)


def test_email_addresses_are_lower_cased_and_trimmed() -> None:
    assert check_email("  Bob@Example.COM ") == "bob@example.com"
