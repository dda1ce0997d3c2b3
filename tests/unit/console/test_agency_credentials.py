"""A team's credentials and sign-in settings at identity, on fakes: who may do
what (refused on the server), the secret shown once and never recorded, and
every change in the team's audit trail."""

from __future__ import annotations

import pytest

from services.console.domain.roles import Action, Role
from services.console.domain.teams import Member
from services.console.service_layer.agency_credentials import AgencyCredentials
from services.runtime.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from tests.fakes.console_agencies import FakeAgencyAdmin, agency_view
from tests.unit.console.support import OPERATOR, Console, staff

JWKS = '{"keys": [{"kty": "EC", "crv": "P-256", "x": "x", "y": "y"}]}'
SETTINGS = {
    "redirect_uris": "https://parks.example/callback\n\nhttps://parks.example/callback\n",
    "post_logout_redirect_uris": "https://parks.example/bye",
    "sector_identifier": "",
    "display_name": "  City   parks ",
    "logo_uri": "https://parks.example/logo.png",
}


def setup() -> tuple[Console, FakeAgencyAdmin, AgencyCredentials, str]:
    console = Console()
    admin = FakeAgencyAdmin()
    team_id = console.teams.sign_up(staff("ada"), "Parks Agency", "req-1").team.id
    return console, admin, AgencyCredentials(console.uow, admin, console.clock), team_id


def join(console: Console, team_id: str, who: str, role: Role) -> None:
    person = staff(who)
    console.work.members.add(
        Member(team_id, person.subject, person.email, role, False, console.clock())
    )


def entries(console: Console, team_id: str) -> list[tuple[str, str, dict[str, str]]]:
    return [(e.actor_email, e.action, e.details) for e in console.work.audit.of_team(team_id)]


def test_a_developer_rotates_the_secret_shown_once_and_never_in_the_audit_trail() -> None:
    console, admin, credentials, team_id = setup()
    join(console, team_id, "dev", Role.DEVELOPER)
    rotated = credentials.rotate_secret(staff("dev"), team_id, "form-1")
    assert rotated.client_secret == "gaap_test_secret-1"
    assert rotated.agency.previous_secret is not None
    again = credentials.rotate_secret(staff("dev"), team_id, "form-1")  # sent twice
    assert again.client_secret == ""
    assert admin.issued == 1
    [newest, *_] = entries(console, team_id)
    assert newest == ("dev@agency.example", "rotate_secret", {"agency_id": "ag_1"})
    assert len([e for e in entries(console, team_id) if e[1] == "rotate_secret"]) == 1
    assert "secret-1" not in str(entries(console, team_id))


def test_revoking_the_previous_secret_is_audited_and_refused_without_one() -> None:
    console, admin, credentials, team_id = setup()
    ada = staff("ada")
    with pytest.raises(FailedPrecondition):
        credentials.revoke_previous_secret(ada, team_id, "form-1")
    credentials.rotate_secret(ada, team_id, "form-2")
    credentials.revoke_previous_secret(ada, team_id, "form-3")
    assert admin.get("ag_1").previous_secret is None
    assert entries(console, team_id)[0][1] == "revoke_secret"


@pytest.mark.parametrize("role", [Role.SENDER, Role.VIEWER])
def test_senders_and_viewers_are_refused_credentials_and_nothing_is_called(role: Role) -> None:
    console, admin, credentials, team_id = setup()
    join(console, team_id, "someone", role)
    person = staff("someone")
    before = entries(console, team_id)
    with pytest.raises(PermissionDenied):
        credentials.view(person, team_id, Action.MANAGE_CREDENTIALS)
    with pytest.raises(PermissionDenied):
        credentials.rotate_secret(person, team_id, "form-1")
    with pytest.raises(PermissionDenied):
        credentials.revoke_previous_secret(person, team_id, "form-1")
    with pytest.raises(PermissionDenied):
        credentials.replace_jwks(person, team_id, JWKS, "form-1")
    with pytest.raises(PermissionDenied):
        credentials.update_sign_in(person, team_id, SETTINGS, "form-1")
    assert admin.calls == []
    assert entries(console, team_id) == before


def test_outsiders_get_not_found_and_operators_change_nothing() -> None:
    _console, admin, credentials, team_id = setup()
    with pytest.raises(NotFound):
        credentials.rotate_secret(staff("eve"), team_id, "form-1")
    operator = staff(OPERATOR.split("@")[0], operator=True)
    with pytest.raises(PermissionDenied):
        credentials.rotate_secret(operator, team_id, "form-1")
    assert admin.calls == []


def test_a_developer_may_not_change_the_sign_in_settings() -> None:
    console, _admin, credentials, team_id = setup()
    join(console, team_id, "dev", Role.DEVELOPER)
    with pytest.raises(PermissionDenied):
        credentials.update_sign_in(staff("dev"), team_id, SETTINGS, "form-1")
    with pytest.raises(PermissionDenied):
        credentials.view(staff("dev"), team_id, Action.MANAGE_SETTINGS)


def test_uploading_keys_records_a_fingerprint_not_the_keys() -> None:
    console, _admin, credentials, team_id = setup()
    agency = credentials.replace_jwks(staff("ada"), team_id, f"  {JWKS}\n", "form-1")
    assert agency.uses_keys
    assert agency.secret is None
    [(_, action, details), *_] = entries(console, team_id)
    assert action == "replace_jwks"
    assert set(details) == {"agency_id", "jwks_sha256"}
    assert "P-256" not in str(details)


def test_an_empty_or_huge_jwk_set_is_refused_before_identity_is_called() -> None:
    _console, admin, credentials, team_id = setup()
    for text in ("", "   ", "x" * (64 * 1024 + 1)):
        with pytest.raises(InvalidArgument) as info:
            credentials.replace_jwks(staff("ada"), team_id, text, "form-1")
        assert info.value.violations[0].field == "jwks_json"
    assert admin.calls == []


def test_identity_refusals_of_keys_reach_the_form_and_record_nothing() -> None:
    console, _admin, credentials, team_id = setup()
    before = entries(console, team_id)
    with pytest.raises(InvalidArgument):
        credentials.replace_jwks(staff("ada"), team_id, '{"keys": []}', "form-1")
    assert entries(console, team_id) == before


def test_the_sign_in_settings_change_only_what_the_form_changed() -> None:
    console, admin, credentials, team_id = setup()
    agency = credentials.update_sign_in(staff("ada"), team_id, SETTINGS, "form-1")
    assert agency.redirect_uris == ("https://parks.example/callback",)  # one a line, once
    assert agency.display_name == "City parks"
    assert admin.updates == [
        ["redirect_uris", "post_logout_redirect_uris", "display_name", "logo_uri"]
    ]
    assert entries(console, team_id)[0][2] == {
        "agency_id": "ag_1",
        "fields": "redirect_uris,post_logout_redirect_uris,display_name,logo_uri",
    }
    credentials.update_sign_in(staff("ada"), team_id, SETTINGS, "form-2")
    assert len(admin.updates) == 1  # nothing changed, nothing sent or recorded
    assert len([e for e in entries(console, team_id) if e[1] == "update_sign_in"]) == 1


def test_refused_settings_change_nothing() -> None:
    _console, admin, credentials, team_id = setup()
    bad = dict(SETTINGS, redirect_uris="http://parks.example/callback")
    with pytest.raises(InvalidArgument) as info:
        credentials.update_sign_in(staff("ada"), team_id, bad, "form-1")
    assert info.value.violations[0].field == "agency.redirect_uris[0]"
    too_many = dict(SETTINGS, redirect_uris="\n".join(f"https://a.example/{i}" for i in range(21)))
    with pytest.raises(InvalidArgument):
        credentials.update_sign_in(staff("ada"), team_id, too_many, "form-2")
    assert admin.updates == []
    assert admin.get("ag_1") == agency_view("ag_1")


def test_a_form_without_its_request_id_is_refused() -> None:
    _console, admin, credentials, team_id = setup()
    with pytest.raises(InvalidArgument):
        credentials.rotate_secret(staff("ada"), team_id, "")
    assert admin.issued == 0
