"""The console's notify pages against real identity and notify, on SQLite and
PostgreSQL: a team creates, previews and edits a template, sends a message from
it and reads the notification, registers its status callback and tests it; a
viewer reads and is refused every change by the server; notify's refusals come
back as the form's errors; every change is in the team's audit trail."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from tests.integration.console.test_console import forged_post, invite_and_accept
from tests.support.console import Console, running_console, sign_in, sign_up
from tests.support.journey import post_form
from tests.support.platform import Platform, running_platform

pytestmark = pytest.mark.slow
_TEMPLATE = re.compile(r"/templates/(tpl_[A-Za-z0-9_-]+)\?saved=1$")
_NOTIFICATION = re.compile(r"/notifications/(ntf_[A-Za-z0-9_-]+)\?sent=1$")


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


def new_template(admin: httpx.Client, console: Console, team: str, channel: str) -> str:
    form = admin.get(f"{console.url}/teams/{team}/templates/new")
    assert form.status_code == 200, form.text[:800]
    made = post_form(
        admin,
        form,
        "/templates/new",
        channel=channel,
        name=f"Permit ({channel})",
        language_0="en",
        subject_0="Permit ((ref))",
        body_0="Hello ((name)), your permit ((ref)) is ready.",
        language_1="zh-Hans",
        subject_1="许可证 ((ref))",
        body_1="((name))您好，许可证 ((ref)) 已就绪。",
    )
    assert made.status_code == 303, made.text[:800]
    found = _TEMPLATE.search(made.headers["location"])
    assert found, made.headers["location"]
    return found.group(1)


def test_a_team_writes_previews_edits_and_sends_from_a_template(console: Console) -> None:
    with httpx.Client(timeout=30) as admin:
        ada = console.person("ada")
        sign_in(admin, console.url, ada)
        team, _ = sign_up(admin, console.url, "Parks Agency")
        home = admin.get(f"{console.url}/teams/{team}")
        for path in ("/templates", "/send", "/usage", "/callbacks"):
            assert f'href="/teams/{team}{path}"' in home.text

        email = new_template(admin, console, team, "email")
        page = admin.get(f"{console.url}/teams/{team}/templates/{email}")
        assert 'id="version">1<' in page.text
        assert "许可证 ((ref))" in page.text
        previewed = post_form(
            admin, page, "/preview", language="zh-Hans", p_name="Ada", p_ref="P-9"
        )
        assert previewed.status_code == 200, previewed.text[:800]
        assert "Ada您好，许可证 P-9 已就绪。" in previewed.text
        missing = post_form(admin, page, "/preview", language="en", p_name="Ada", p_ref="")
        assert missing.status_code == 400, missing.text[:800]
        assert 'href="#p_ref"' in missing.text

        edit = admin.get(f"{console.url}/teams/{team}/templates/{email}/edit")
        edited = post_form(
            admin,
            edit,
            "/edit",
            name="Permit v2",
            body_0="Dear ((name)), permit ((ref)).",
            language_1="",
            subject_1="",
            body_1="",
        )
        assert edited.status_code == 303, edited.text[:800]
        page = admin.get(f"{console.url}/teams/{team}/templates/{email}")
        assert 'id="version">2<' in page.text
        assert "Permit v2" in page.text
        # each version names the staff member, and notify recorded the console as actor
        rows = re.findall(r'<td data-actor="([^"]*)">([^<]+)</td>', page.text)
        assert rows == [(console.client_id, ada.email)] * 2

        sms = new_template(admin, console, team, "sms")
        sms_page = admin.get(f"{console.url}/teams/{team}/templates/{sms}")
        previewed = post_form(admin, sms_page, "/preview", language="en", p_name="Bo", p_ref="Q")
        assert 'id="fragments"' in previewed.text
        assert "1 text message fragments" in previewed.text

        form = admin.get(f"{console.url}/teams/{team}/send", params={"template": email})
        bad = post_form(admin, form, "/send", recipient="not an address", p_name="A", p_ref="R")
        assert bad.status_code == 400, bad.text[:800]
        assert 'href="#recipient"' in bad.text
        unfilled = post_form(admin, form, "/send", recipient="citizen@example.com", p_name="A")
        assert unfilled.status_code == 400, unfilled.text[:800]
        assert 'href="#p_ref"' in unfilled.text
        sent = post_form(
            admin,
            form,
            "/send",
            recipient="citizen@example.com",
            p_name="Ada",
            p_ref="P-1",
            reference="case-1",
        )
        assert sent.status_code == 303, sent.text[:800]
        found = _NOTIFICATION.search(sent.headers["location"])
        assert found, sent.headers["location"]
        shown = admin.get(console.url + sent.headers["location"])
        assert shown.status_code == 200
        assert "citizen@example.com" in shown.text
        assert "Dear Ada, permit P-1." in shown.text
        assert 'id="status">' in shown.text
        history = shown.text.split('id="history"')[1].split("</table>")[0]
        assert "Created" in history  # notify's status history, newest change last

        usage = admin.get(f"{console.url}/teams/{team}/usage")
        assert usage.status_code == 200
        assert re.search(r'id="usage-email"><th scope="row">Email</th><td>1</td>', usage.text)

        audit = admin.get(f"{console.url}/teams/{team}/audit").text
        for action in ("create_template", "update_template", "send_message"):
            assert f'data-action="{action}"' in audit
        assert "citizen@example.com" not in audit


def test_a_developer_registers_tests_and_removes_the_status_callback(console: Console) -> None:
    with httpx.Client(timeout=30) as admin:
        sign_in(admin, console.url, console.person("ada"))
        team, _ = sign_up(admin, console.url, "Rivers Agency")
        page = admin.get(f"{console.url}/teams/{team}/callbacks")
        assert 'id="no-callback"' in page.text
        refused = post_form(admin, page, f"/teams/{team}/callbacks", url="not a url")
        assert refused.status_code == 400, refused.text[:800]
        assert 'href="#url"' in refused.text
        registered = post_form(
            admin, page, f"/teams/{team}/callbacks", url="http://127.0.0.1:9/notify-status"
        )
        assert registered.status_code == 200, registered.text[:800]
        assert re.search(r"<code>whsec_[A-Za-z0-9_-]+</code>", registered.text)
        page = admin.get(f"{console.url}/teams/{team}/callbacks")
        assert "http://127.0.0.1:9/notify-status" in page.text
        assert "whsec_" not in page.text
        tested = post_form(admin, page, "/callbacks/test")
        assert tested.status_code == 200, tested.text[:800]
        assert "callback.test" in tested.text
        unknown = post_form(admin, page, "/callbacks/redeliver", notification_id="ntf_nope")
        assert unknown.status_code == 400
        assert 'href="#notification_id"' in unknown.text
        deleted = post_form(admin, page, "/callbacks/delete")
        assert deleted.status_code == 303
        assert 'id="no-callback"' in admin.get(f"{console.url}/teams/{team}/callbacks").text
        audit = admin.get(f"{console.url}/teams/{team}/audit").text
        for action in ("set_status_callback", "test_status_callback", "delete_status_callback"):
            assert f'data-action="{action}"' in audit


def test_a_viewer_reads_templates_and_the_server_refuses_every_change(console: Console) -> None:
    with httpx.Client(timeout=30) as admin, httpx.Client(timeout=30) as viewer:
        sign_in(admin, console.url, console.person("ada"))
        team, _ = sign_up(admin, console.url, "Roads Agency")
        template = new_template(admin, console, team, "email")
        invite_and_accept(console, admin, team, "viewer", viewer)
        listed = viewer.get(f"{console.url}/teams/{team}/templates")
        assert listed.status_code == 200
        assert template in listed.text
        assert "/templates/new" not in listed.text
        base = f"/teams/{team}"
        for path, form in (
            (base + "/templates/new", {"channel": "email", "name": "x", "body_0": "x"}),
            (f"{base}/templates/{template}/edit", {"name": "x", "body_0": "x"}),
            (base + "/send", {"template": template, "recipient": "a@example.com"}),
            (base + "/callbacks", {"url": "http://127.0.0.1:9/x"}),
            (base + "/callbacks/delete", {}),
        ):
            assert forged_post(viewer, console, path, **form).status_code == 403, path
        assert viewer.get(f"{console.url}{base}/callbacks").status_code == 403
        page = admin.get(f"{console.url}/teams/{team}/templates/{template}")
        assert 'id="version">1<' in page.text
        outsider = httpx.Client(timeout=30)
        with outsider:
            sign_in(outsider, console.url, console.person("eve"))
            gone = outsider.get(f"{console.url}/teams/{team}/templates/{template}")
            assert gone.status_code == 404
