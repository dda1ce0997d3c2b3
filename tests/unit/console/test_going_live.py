"""Going live and the operators' work, on fakes: an administrator asks once, an
operator approves (identity first, then the team) or refuses with a reason,
disables an agency with a reason; everyone else is refused on the server."""

from __future__ import annotations

import pytest

from services.console.domain.roles import Role
from services.console.domain.teams import Member
from services.console.service_layer.going_live import GoingLive
from services.runtime.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from tests.fakes.console_agencies import FakeAgencyAdmin
from tests.unit.console.support import Console, staff

OPERATOR = staff("operator", operator=True)


def setup() -> tuple[Console, FakeAgencyAdmin, GoingLive, str]:
    console = Console()
    admin = FakeAgencyAdmin()
    team_id = console.teams.sign_up(staff("ada"), "Parks Agency", "req-1").team.id
    return console, admin, GoingLive(console.uow, admin, console.clock), team_id


def actions(console: Console, team_id: str) -> list[str]:
    return [e.action for e in console.work.audit.of_team(team_id)]


def test_an_approved_request_makes_the_agency_and_the_team_live() -> None:
    console, admin, going, team_id = setup()
    asked = going.request(staff("ada"), team_id, " Parking permits for the city ", "ops@parks")
    assert (asked.state, asked.reason) == ("pending", "Parking permits for the city")
    assert going.status(staff("ada"), team_id).latest == asked
    [waiting] = going.waiting(OPERATOR)
    assert waiting.team.id == team_id
    decided = going.decide(OPERATOR, asked.id, approve=True, reason="")
    assert (decided.state, decided.decided_by) == ("approved", OPERATOR.email)
    assert admin.get("ag_1").mode == "live"
    team = console.work.teams.get(team_id)
    assert team is not None
    assert team.mode == "live"
    assert going.waiting(OPERATOR) == []
    assert actions(console, team_id)[:2] == ["approve_go_live", "request_go_live"]
    with pytest.raises(FailedPrecondition):
        going.decide(OPERATOR, asked.id, approve=True, reason="")
    with pytest.raises(FailedPrecondition):
        going.request(staff("ada"), team_id, "again", "ops@parks")


def test_a_refusal_needs_a_reason_and_leaves_the_agency_in_test() -> None:
    console, admin, going, team_id = setup()
    asked = going.request(staff("ada"), team_id, "Parking permits", "ops@parks")
    with pytest.raises(InvalidArgument):
        going.decide(OPERATOR, asked.id, approve=False, reason="  ")
    refused = going.decide(OPERATOR, asked.id, approve=False, reason="Tell us about support")
    assert (refused.state, refused.decision_reason) == ("refused", "Tell us about support")
    assert admin.calls == []
    team = console.work.teams.get(team_id)
    assert team is not None
    assert team.mode == "test"
    assert going.request(staff("ada"), team_id, "With support now", "ops@parks").state == "pending"


def test_one_request_waits_at_a_time_and_bad_ones_change_nothing() -> None:
    console, _admin, going, team_id = setup()
    with pytest.raises(InvalidArgument) as info:
        going.request(staff("ada"), team_id, "", "x" * 201)
    assert {v.field for v in info.value.violations} == {"reason", "contact"}
    assert console.work.go_live.rows == {}
    going.request(staff("ada"), team_id, "Parking permits", "ops@parks")
    with pytest.raises(FailedPrecondition):
        going.request(staff("ada"), team_id, "Parking permits", "ops@parks")


@pytest.mark.parametrize("role", [Role.DEVELOPER, Role.SENDER, Role.VIEWER])
def test_only_administrators_ask_to_go_live(role: Role) -> None:
    console, _admin, going, team_id = setup()
    person = staff("someone")
    console.work.members.add(
        Member(team_id, person.subject, person.email, role, False, console.clock())
    )
    with pytest.raises(PermissionDenied):
        going.request(person, team_id, "Parking permits", "ops@parks")
    with pytest.raises(PermissionDenied):
        going.status(person, team_id)
    assert console.work.go_live.rows == {}


def test_operators_work_is_not_found_for_everyone_else() -> None:
    _console, admin, going, team_id = setup()
    asked = going.request(staff("ada"), team_id, "Parking permits", "ops@parks")
    administrator = staff("ada")
    with pytest.raises(NotFound):
        going.waiting(administrator)
    with pytest.raises(NotFound):
        going.decide(administrator, asked.id, approve=True, reason="")
    with pytest.raises(NotFound):
        going.agencies(administrator)
    with pytest.raises(NotFound):
        going.disable(administrator, "ag_1", "fraud", "form-1")
    assert admin.calls == []
    with pytest.raises(NotFound):
        going.decide(OPERATOR, "golive_missing", approve=True, reason="")


def test_an_operator_disables_an_agency_with_a_reason_and_it_is_audited() -> None:
    console, admin, going, team_id = setup()
    admin.get("ag_1")
    with pytest.raises(InvalidArgument):
        going.disable(OPERATOR, "ag_1", "", "form-1")
    assert admin.calls == []
    going.disable(OPERATOR, "ag_1", "Reported for fraud", "form-1")
    assert admin.get("ag_1").disabled
    [listed] = going.agencies(OPERATOR)
    assert listed.team is not None
    assert listed.team.id == team_id
    [latest, *_] = console.work.audit.of_team(team_id)
    assert (latest.action, latest.details) == ("disable_agency", {"reason": "Reported for fraud"})
