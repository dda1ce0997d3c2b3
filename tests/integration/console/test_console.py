"""The console against real identity and notify on ephemeral ports, on SQLite
and PostgreSQL: staff sign in through identity (password + TOTP), sign up an
agency (identity's CreateAgency, its secret shown once and working), invite by
email through notify, accept as the invited person only, roles enforced on the
server, CSRF on every form, the audit trail, operators."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from gaap.notify.v1 import notify_pb2 as npb

from tests.support.console import COOKIE, Console, Person, running_console, sign_in, sign_up
from tests.support.journey import post_form
from tests.support.platform import Platform, running_platform

pytestmark = pytest.mark.slow
OPERATOR = "operator-{}@example.com"


@pytest.fixture(scope="module")
def platform(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    with running_platform(database_url, tmp_path_factory.mktemp("var"), real_issuer=True) as p:
        yield p


@pytest.fixture(scope="module")
def console(
    platform: Platform, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Console]:
    var = tmp_path_factory.mktemp("console")
    with running_console(platform, database_url, var, OPERATOR.format("olu")) as running:
        yield running


def invitation_link(console: Console, email: str) -> str:
    """The link in the invitation notify holds for ``email`` (read as the console's agency)."""
    found = console.running.client.notify.ListNotifications(
        npb.ListNotificationsRequest(page_size=100)
    )
    bodies = [n.body for n in found.notifications if n.recipient == email]
    assert bodies, [n.recipient for n in found.notifications]
    match = re.search(r"(http://\S+/invitations/[A-Za-z0-9_-]+)", bodies[0])
    assert match, bodies[0]
    return match.group(1)


def forged_post(client: httpx.Client, console: Console, path: str, **form: str) -> httpx.Response:
    """A POST with a valid CSRF token for this session, as if the page had offered
    the form: to show the server refuses what a role may not do, not just hides it."""
    token = console.running.web.csrf.issue(client.cookies[COOKIE], path)
    return client.post(console.url + path, data={"csrf_token": token, **form})


def signed_up_team(console: Console, admin: Person, client: httpx.Client) -> str:
    sign_in(client, console.url, admin)
    team, _ = sign_up(client, console.url, "Parks Agency")
    return team


def invite_and_accept(
    console: Console, admin: httpx.Client, team: str, role: str, client: httpx.Client
) -> Person:
    """Invite a new person with ``role``; they accept, signed in on ``client``."""
    person = console.person(role)
    members = admin.get(f"{console.url}/teams/{team}/members")
    invited = post_form(admin, members, "/invitations", email=person.email.upper(), role=role)
    assert invited.status_code == 303, invited.text[:800]
    link = invitation_link(console, person.email)
    page = sign_in(client, console.url, person, link.removeprefix(console.url))
    accepted = post_form(client, page, "/invitations/")
    assert accepted.status_code == 303
    return person


def test_a_signed_up_agency_is_registered_at_identity_and_its_secret_works(
    console: Console, platform: Platform
) -> None:
    with httpx.Client(timeout=30) as client:
        home = sign_in(client, console.url, console.person("ada"))
        assert "Signed in as ada-" in home.text
        team, secret = sign_up(client, console.url, "Parks Agency")
        page = client.get(f"{console.url}/teams/{team}")
        assert "Team members" in page.text
        assert "Audit trail" in page.text
        agency_id = re.search(r"<code>(ag_[0-9a-f]+)</code>", page.text)
    assert agency_id
    agency = platform.admin.registry.get(agency_id.group(1))
    assert (agency.name, agency.mode) == ("Parks Agency", "test")
    token = httpx.post(
        platform.token_url,
        data={"grant_type": "client_credentials"},
        auth=(agency_id.group(1), secret),
    )
    assert token.status_code == 200, token.text


def test_an_invitation_is_mailed_and_accepted_only_by_the_person_invited(
    console: Console,
) -> None:
    with httpx.Client(timeout=30) as admin:
        team = signed_up_team(console, console.person("ada"), admin)
        bob = console.person("bob")
        members = admin.get(f"{console.url}/teams/{team}/members")
        post_form(admin, members, "/invitations", email=bob.email, role="developer")
        link = invitation_link(console, bob.email)
        assert link.startswith(console.url + "/invitations/")

        with httpx.Client(timeout=30) as eve:
            sign_in(eve, console.url, console.person("eve"))
            refused = post_form(eve, eve.get(link), "/invitations/")
            assert refused.status_code == 403
            assert eve.get(f"{console.url}/teams/{team}").status_code == 404

        with httpx.Client(timeout=30) as client:
            page = sign_in(client, console.url, bob, link.removeprefix(console.url))
            assert post_form(client, page, "/invitations/").status_code == 303
            assert "developer" in client.get(f"{console.url}/teams/{team}").text
            used = client.get(link)
            assert used.status_code == 404
            assert "This invitation has expired or has already been used" in used.text

        audit = admin.get(f"{console.url}/teams/{team}/audit").text
    actions = re.findall(r'data-action="([a-z_]+)"', audit)
    assert actions == ["accept_invitation", "invite_member", "sign_up_agency"]
    assert bob.email not in audit.split("accept_invitation")[1], "only the actor's address"


def test_a_viewer_is_refused_administrator_actions_on_the_server(console: Console) -> None:
    with httpx.Client(timeout=30) as admin:
        team = signed_up_team(console, console.person("ada"), admin)
        with httpx.Client(timeout=30) as client:
            viewer = invite_and_accept(console, admin, team, "viewer", client)
            members = client.get(f"{console.url}/teams/{team}/members")
            assert "Send the invitation" not in members.text
            subject = _subject_of(admin, console, team, viewer.email)
            for path, form in (
                (f"/teams/{team}/invitations", {"email": "x@example.com", "role": "viewer"}),
                (f"/teams/{team}/members/{subject}/role", {"role": "administrator"}),
                (f"/teams/{team}/members/{subject}/remove", {}),
            ):
                assert forged_post(client, console, path, **form).status_code == 403
        listing = admin.get(f"{console.url}/teams/{team}/members").text
    assert viewer.email in listing
    assert "administrator" not in listing.split(viewer.email)[1].split("</tr>")[0]


def test_the_last_administrator_stays_and_roles_change(console: Console) -> None:
    with httpx.Client(timeout=30) as admin:
        team = signed_up_team(console, console.person("ada"), admin)
        with httpx.Client(timeout=30) as client:
            sender = invite_and_accept(console, admin, team, "sender", client)
        me = _subject_of(admin, console, team, "ada-")
        kept = forged_post(admin, console, f"/teams/{team}/members/{me}/remove")
        assert kept.status_code == 409
        them = _subject_of(admin, console, team, sender.email)
        changed = forged_post(
            admin, console, f"/teams/{team}/members/{them}/role", role="viewer", refunder="yes"
        )
        assert changed.status_code == 303
        row = admin.get(f"{console.url}/teams/{team}/members").text.split(sender.email)[1]
        assert "<td>viewer, refunder</td>" in row.split("</tr>")[0]


def test_every_form_needs_its_csrf_token(console: Console) -> None:
    with httpx.Client(timeout=30) as admin:
        team = signed_up_team(console, console.person("ada"), admin)
        path = f"/teams/{team}/invitations"
        for token in ("", "forged", console.running.web.csrf.issue(admin.cookies[COOKIE], "/x")):
            refused = admin.post(
                console.url + path,
                data={"csrf_token": token, "email": "c@example.com", "role": "viewer"},
            )
            assert refused.status_code == 400
        assert "c@example.com" not in admin.get(f"{console.url}/teams/{team}/members").text
        assert admin.post(console.url + "/agencies/new", data={"name": "X"}).status_code == 400


def test_signed_out_pages_send_to_sign_in_and_sign_out_ends_the_session(
    console: Console,
) -> None:
    with httpx.Client(timeout=30) as client:
        bounced = client.get(console.url + "/agencies/new")
        assert bounced.status_code == 303
        assert bounced.headers["location"] == "/signin?next=%2Fagencies%2Fnew"
        home = sign_in(client, console.url, console.person("ada"))
        out = post_form(client, home, "/signout")
        assert out.status_code == 303
        assert out.headers["location"].startswith(console.platform.identity.http_url + "/logout?")
        assert client.get(console.url + "/agencies/new").status_code == 303


def test_an_operator_reads_any_team_and_changes_nothing(console: Console) -> None:
    with httpx.Client(timeout=30) as admin:
        team = signed_up_team(console, console.person("ada"), admin)
    operator = console.person("operator")
    operator_email = OPERATOR.format("olu")
    console.platform.admin.accounts.create(
        email=operator_email,
        password=operator.password,
        email_verified=True,
        totp_secret=operator.totp_secret,
        given_name="Olu",
        family_name="Operator",
        locale="en",
    )
    with httpx.Client(timeout=30) as client:
        home = sign_in(
            client, console.url, Person(operator_email, operator.password, operator.totp_secret)
        )
        assert "platform operator" in home.text
        assert client.get(f"{console.url}/teams/{team}/audit").status_code == 200
        invite = forged_post(
            client, console, f"/teams/{team}/invitations", email="o@example.com", role="viewer"
        )
        assert invite.status_code == 403


def _subject_of(admin: httpx.Client, console: Console, team: str, email: str) -> str:
    page = admin.get(f"{console.url}/teams/{team}/members").text
    row = page.split(email, 1)[1]
    match = re.search(r"/members/([A-Za-z0-9_-]+)/role", row)
    assert match
    return match.group(1)


def test_pages_carry_the_security_headers_and_the_session_cookie_is_http_only(
    console: Console,
) -> None:
    page = httpx.get(console.url + "/")
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["content-security-policy"] == "frame-ancestors 'none'"
    assert page.headers["referrer-policy"] == "no-referrer"  # invitation tokens stay here
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["cache-control"] == "no-store"
    started = httpx.get(console.url + "/signin")
    assert started.status_code == 303
    cookie = started.headers["set-cookie"].lower()
    assert cookie.startswith("console_session=")
    assert "httponly" in cookie
    assert "samesite=lax" in cookie
