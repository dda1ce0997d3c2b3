"""The console acting for a team's agency against real identity and payments, on
SQLite and PostgreSQL: a staff member who signed up an agency reads its payments
through the console (token exchange with the console's credentials), sees no
other agency's, and a role that may not refund gets no token to refund."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest
from gaap.common.v1 import caller_pb2
from gaap.payments.v1 import payments_pb2 as pb
from gaap.payments.v1 import payments_pb2_grpc as pb_grpc

from services.console.adapters.unit_of_work import transactions
from services.console.domain.roles import Action
from services.console.domain.staff import Staff
from services.runtime import db
from services.runtime.errors import PermissionDenied
from tests.support.console import Console, running_console, sign_in, sign_up
from tests.support.platform import Platform, bearer, running_platform

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def platform(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    with running_platform(database_url, tmp_path_factory.mktemp("var"), real_issuer=True) as p:
        yield p


@pytest.fixture(scope="module")
def console(
    platform: Platform, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Console]:
    with running_console(platform, database_url, tmp_path_factory.mktemp("console")) as running:
        yield running


def payment(platform: Platform, client_id: str, secret: str, reference: str) -> str:
    token = httpx.post(
        platform.token_url, data={"grant_type": "client_credentials"}, auth=(client_id, secret)
    ).json()["access_token"]
    created = pb_grpc.PaymentsServiceStub(platform.channel("payments")).CreatePayment(
        pb.CreatePaymentRequest(
            amount=1050,
            reference=reference,
            description="Parking permit",
            return_url="https://agency.example/done",
            idempotency_key=uuid.uuid4().hex,
        ),
        metadata=bearer(token),
    )
    return str(created.id)


def test_a_team_member_reads_the_teams_payments_and_no_one_elses(
    console: Console, platform: Platform
) -> None:
    with httpx.Client(timeout=30) as browser:
        person = console.person("ada")
        sign_in(browser, console.url, person)
        team_id, secret = sign_up(browser, console.url, "Parks Agency")
    with transactions(db.session_factory(console.running.engine)).read() as uow:
        team = uow.teams.get(team_id)
        assert team is not None
        [member] = uow.members.of_team(team_id)
    other = platform.secret_agency()
    theirs = payment(platform, other.client_id, other.client_secret, "OTHER-1")
    mine = payment(platform, team.agency_id, secret, "PARKS-1")
    staff = Staff(member.subject, member.email, True, "Ada")

    with console.running.acting.connect(staff, team_id, Action.VIEW_PAYMENTS) as agency:
        listed = agency.payments.ListPayments(pb.ListPaymentsRequest())
        who = agency.caller(agency.targets.payments).GetCallerIdentity(
            caller_pb2.GetCallerIdentityRequest()
        )
    assert [p.id for p in listed.payments] == [mine]
    assert theirs not in [p.id for p in listed.payments]
    assert who.client_id == team.agency_id
    assert list(who.scopes) == ["payments:read"]
    # An administrator without the refunder permission gets no token to refund.
    with pytest.raises(PermissionDenied):
        console.running.acting.connect(staff, team_id, Action.REFUND)


def test_the_console_acts_for_an_agency_whose_tokens_must_be_bound(
    console: Console, platform: Platform
) -> None:
    """A team whose agency must bind its tokens to a DPoP key (as the fapi2 profile
    does, like make run's demo agency) is still served: the console's exchanged
    tokens are bound to its own key and every call carries a proof."""
    with httpx.Client(timeout=30) as browser:
        sign_in(browser, console.url, console.person("grace"))
        team_id, _ = sign_up(browser, console.url, "Bound Agency")
    with transactions(db.session_factory(console.running.engine)).read() as uow:
        team = uow.teams.get(team_id)
        assert team is not None
        [member] = uow.members.of_team(team_id)
    platform.admin.registry.update(team.agency_id, {"dpop_bound_access_tokens": True})
    staff = Staff(member.subject, member.email, True, "Grace")

    with console.running.acting.connect(staff, team_id, Action.VIEW_PAYMENTS) as agency:
        listed = agency.payments.ListPayments(pb.ListPaymentsRequest())
        who = agency.caller(agency.targets.payments).GetCallerIdentity(
            caller_pb2.GetCallerIdentityRequest()
        )
    assert list(listed.payments) == []
    assert who.client_id == team.agency_id
