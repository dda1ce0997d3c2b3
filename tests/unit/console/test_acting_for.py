"""Acting for a team's agency (token exchange), on fakes: who gets a client of
payments and notify as the team's agency, and with which scopes."""

from __future__ import annotations

import pytest

from services.console.domain.agency_scopes import SCOPES_FOR
from services.console.domain.roles import Action, Role
from services.console.domain.teams import Member
from services.console.service_layer.acting_for import ActingFor
from services.runtime.errors import NotFound, PermissionDenied
from tests.fakes.console_acting import FakeAgencyCalls
from tests.unit.console.support import OPERATOR, Console, staff


class AgencyClient:
    """What a page would call: here, just which agency it is."""

    def __init__(self, agency_id: str) -> None:
        self.agency_id = agency_id


def team_of(console: Console, role: Role, *, refunder: bool = False) -> tuple[str, str]:
    """A team whose member ``bea`` has ``role``: its id and its agency's."""
    team = console.teams.sign_up(staff("ada"), "Parks Agency", "req-1").team
    bea = staff("bea")
    console.work.members.add(
        Member(team.id, bea.subject, bea.email, role, refunder, console.clock())
    )
    return team.id, team.agency_id


def acting(console: Console) -> tuple[ActingFor[AgencyClient], FakeAgencyCalls[AgencyClient]]:
    agencies = [a.agency_id for a in console.registrar.created.values()]
    calls = FakeAgencyCalls({a: AgencyClient(a) for a in agencies})
    return ActingFor(console.uow, calls), calls


def test_a_viewer_reads_payments_as_the_teams_agency_with_payments_read_only() -> None:
    console = Console()
    team_id, agency_id = team_of(console, Role.VIEWER)
    use_case, calls = acting(console)
    with use_case.connect(staff("bea"), team_id, Action.VIEW_PAYMENTS) as client:
        assert client.agency_id == agency_id
        assert calls.open == 1
    assert calls.open == 0
    assert calls.connected == [(agency_id, ("payments:read",))]


@pytest.mark.parametrize(
    ("role", "action"),
    [
        (Role.VIEWER, Action.REFUND),
        (Role.VIEWER, Action.SEND_MESSAGES),
        (Role.DEVELOPER, Action.SEND_MESSAGES),
        (Role.SENDER, Action.MANAGE_WEBHOOKS),
        (Role.ADMINISTRATOR, Action.REFUND),  # refunding is its own permission
    ],
)
def test_a_role_that_may_not_act_gets_no_client(role: Role, action: Action) -> None:
    console = Console()
    team_id, _ = team_of(console, role)
    use_case, calls = acting(console)
    with pytest.raises(PermissionDenied):
        use_case.connect(staff("bea"), team_id, action)
    assert calls.connected == []


def test_a_refunder_gets_the_refund_scope() -> None:
    console = Console()
    team_id, agency_id = team_of(console, Role.VIEWER, refunder=True)
    use_case, calls = acting(console)
    with use_case.connect(staff("bea"), team_id, Action.REFUND):
        pass
    assert calls.connected == [(agency_id, ("payments:read", "payments:refund"))]


def test_outsiders_and_operators_cannot_act_for_a_team() -> None:
    console = Console()
    team_id, _ = team_of(console, Role.ADMINISTRATOR)
    use_case, calls = acting(console)
    with pytest.raises(NotFound):
        use_case.connect(staff("eve"), team_id, Action.VIEW_PAYMENTS)
    operator = staff(OPERATOR.partition("@")[0], operator=True)
    with pytest.raises(PermissionDenied):
        use_case.connect(operator, team_id, Action.VIEW_PAYMENTS)
    with pytest.raises(NotFound):
        use_case.connect(staff("bea"), "team_missing", Action.VIEW_PAYMENTS)
    assert calls.connected == []


def test_an_action_that_calls_no_service_asks_for_no_token() -> None:
    console = Console()
    team_id, _ = team_of(console, Role.ADMINISTRATOR)
    use_case, calls = acting(console)
    with pytest.raises(ValueError, match="invite_member"):
        use_case.connect(staff("bea"), team_id, Action.INVITE_MEMBER)
    assert calls.connected == []


def test_each_action_asks_only_for_agency_scopes_of_payments_and_notify() -> None:
    known = {
        "payments:create",
        "payments:read",
        "payments:refund",
        "notify:send",
        "notify:templates",
        "notify:read",
    }
    assert all(set(scopes) <= known and scopes for scopes in SCOPES_FOR.values())
    assert SCOPES_FOR[Action.VIEW_PAYMENTS] == ("payments:read",)
    assert SCOPES_FOR[Action.VIEW_NOTIFICATIONS] == ("notify:read",)
