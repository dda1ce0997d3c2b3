"""Signing up an agency, roles and removal, authorisation and the audit trail,
on fakes."""

from __future__ import annotations

import pytest

from services.console.domain.roles import Action, Role
from services.console.domain.teams import Member
from services.runtime.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from tests.unit.console.support import Console, staff


def signed_up(console: Console, name: str = "Parks Agency") -> str:
    return console.teams.sign_up(staff("ada"), name, "req-1").team.id


def join(console: Console, team_id: str, who: str, role: Role) -> None:
    person = staff(who)
    console.work.members.add(
        Member(team_id, person.subject, person.email, role, False, console.clock())
    )


def test_signing_up_registers_a_test_agency_and_makes_its_creator_administrator() -> None:
    console = Console()
    result = console.teams.sign_up(staff("ada"), "  Parks   Agency ", "req-1")
    assert result.client_secret == "secret-0"
    assert (result.team.name, result.team.mode, result.team.agency_id) == (
        "Parks Agency",
        "test",
        "ag_1",
    )
    [member] = console.work.members.of_team(result.team.id)
    assert (member.subject, member.role) == ("sub-ada", Role.ADMINISTRATOR)
    [entry] = console.work.audit.of_team(result.team.id)
    assert (entry.actor_email, entry.action, entry.details) == (
        "ada@agency.example",
        "sign_up_agency",
        {"agency_id": "ag_1"},
    )


def test_the_same_form_sent_twice_makes_one_team_and_shows_the_secret_once() -> None:
    console = Console()
    first = console.teams.sign_up(staff("ada"), "Parks", "req-1")
    again = console.teams.sign_up(staff("ada"), "Parks", "req-1")
    assert again.team == first.team
    assert again.client_secret == ""
    assert len(console.work.teams.rows) == 1
    assert len(console.registrar.created) == 1


def test_signing_up_needs_a_name_and_a_verified_email_and_changes_nothing_otherwise() -> None:
    console = Console()
    with pytest.raises(InvalidArgument):
        console.teams.sign_up(staff("ada"), "   ", "req-1")
    with pytest.raises(InvalidArgument):
        console.teams.sign_up(staff("ada"), "x" * 201, "req-1")
    with pytest.raises(PermissionDenied):
        console.teams.sign_up(staff("bob", verified=False), "Parks", "req-1")
    assert console.registrar.created == {}
    assert console.work.teams.rows == {}


def test_an_administrator_changes_roles_and_it_is_audited() -> None:
    console = Console()
    team = signed_up(console)
    join(console, team, "bob", Role.VIEWER)
    console.teams.change_role(staff("ada"), team, "sub-bob", Role.SENDER, refunder=True)
    bob = console.work.members.get(team, "sub-bob")
    assert bob is not None
    assert (bob.role, bob.refunder) == (Role.SENDER, True)
    assert console.work.audit.of_team(team)[0].details == {"role": "sender", "refunder": "true"}


@pytest.mark.parametrize("role", [Role.DEVELOPER, Role.SENDER, Role.VIEWER])
def test_only_administrators_manage_members(role: Role) -> None:
    console = Console()
    team = signed_up(console)
    join(console, team, "bob", role)
    before = dict(console.work.members.rows)
    with pytest.raises(PermissionDenied):
        console.teams.change_role(staff("bob"), team, "sub-ada", Role.VIEWER, refunder=False)
    with pytest.raises(PermissionDenied):
        console.teams.remove(staff("bob"), team, "sub-ada")
    assert console.work.members.rows == before


def test_the_last_administrator_can_be_neither_demoted_nor_removed() -> None:
    console = Console()
    team = signed_up(console)
    with pytest.raises(FailedPrecondition):
        console.teams.change_role(staff("ada"), team, "sub-ada", Role.VIEWER, refunder=False)
    with pytest.raises(FailedPrecondition):
        console.teams.remove(staff("ada"), team, "sub-ada")
    join(console, team, "bob", Role.ADMINISTRATOR)
    console.teams.remove(staff("bob"), team, "sub-ada")
    assert console.work.members.get(team, "sub-ada") is None


def test_someone_outside_the_team_learns_nothing_of_it() -> None:
    console = Console()
    team = signed_up(console)
    for action in Action:
        with pytest.raises(NotFound):
            console.teams.access(staff("eve"), team, action)
    with pytest.raises(NotFound):
        console.teams.overview(staff("eve"), team)
    with pytest.raises(NotFound):
        console.teams.remove(staff("eve"), team, "sub-ada")
    assert console.teams.mine(staff("eve")) == []


def test_removing_or_changing_a_stranger_is_not_found() -> None:
    console = Console()
    team = signed_up(console)
    with pytest.raises(NotFound):
        console.teams.remove(staff("ada"), team, "sub-nobody")
    with pytest.raises(NotFound):
        console.teams.change_role(staff("ada"), team, "sub-nobody", Role.VIEWER, refunder=False)


def test_an_operator_reads_every_team_and_changes_nothing() -> None:
    console = Console()
    team = signed_up(console)
    operator = staff("olu", operator=True)
    assert [a.team.id for a in console.teams.mine(operator)] == [team]
    console.teams.access(operator, team, Action.VIEW_AUDIT)
    console.teams.audit_trail(operator, team)
    with pytest.raises(PermissionDenied):
        console.teams.access(operator, team, Action.INVITE_MEMBER)
    with pytest.raises(PermissionDenied):
        console.teams.remove(operator, team, "sub-ada")


def test_a_member_sees_only_their_own_teams() -> None:
    console = Console()
    mine = signed_up(console, "Parks")
    other = console.teams.sign_up(staff("zed"), "Roads", "req-9").team.id
    assert [a.team.id for a in console.teams.mine(staff("ada"))] == [mine]
    with pytest.raises(NotFound):
        console.teams.audit_trail(staff("ada"), other)
