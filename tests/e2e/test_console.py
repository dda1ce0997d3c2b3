"""The agency console in headless Chromium against the processes ``make run``
starts: the demo staff member signs in through identity (password + TOTP), finds
the demo agency's team, signs up an agency (its test secret shown once), invites
a second staff member by email (through notify, to the local mail sink), who
accepts and signs in; that viewer is refused an administrator action by the
server (403), and the audit trail shows what was done. The language switch
gives the pages in Simplified Chinese."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from services.console.bootstrap import csrf_tokens
from tests.support import devstack
from tests.support.console_browser import invitation_link, new_person, sign_in_at_identity
from tests.support.devstack import Devstack

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devstack]:
    with devstack.running(tmp_path_factory.mktemp("console") / "var") as running:
        yield running


def test_sign_up_invite_accept_and_a_viewer_refused(stack: Devstack, browser: Browser) -> None:
    admin_context = browser.new_context(locale="en-GB")
    page = admin_context.new_page()
    page.goto(stack.console_url + "/")
    page.get_by_role("link", name="Sign in").click()
    assert page.url.startswith(stack.issuer)
    sign_in_at_identity(page, stack.demo("staff"))
    page.wait_for_url(stack.console_url + "/")
    assert page.locator("#signed-in-as").inner_text() == "Signed in as demo.staff@example.com"
    assert "Demo Agency" in page.locator("#teams").inner_text()

    page.get_by_role("link", name="Sign up an agency").click()
    page.get_by_role("button", name="Create the agency").click()
    assert page.locator(".error-summary").inner_text().endswith("Enter the agency's name")
    page.get_by_label("Agency name").fill("Harbour Permits")
    page.get_by_role("button", name="Create the agency").click()
    assert page.locator("h1").inner_text() == "Your agency is ready"
    assert page.locator("#client-secret").inner_text()
    page.get_by_role("link", name="Go to your team").click()
    team_url = page.url
    team = team_url.rsplit("/", 1)[1]
    assert page.locator("#your-role").inner_text() == "administrator"

    page.get_by_role("link", name="Team members").click()
    viewer = new_person(stack, f"viewer-{secrets.token_hex(3)}@example.com")
    page.get_by_label("Email address").fill(viewer.email)
    page.get_by_label("Role", exact=True).select_option("viewer")
    page.get_by_role("button", name="Send the invitation").click()
    assert viewer.email in page.locator("#invitations").inner_text()
    link = invitation_link(stack.var / "mail", viewer.email)

    viewer_context = browser.new_context(locale="en-GB")
    other = viewer_context.new_page()
    other.goto(link)
    other.get_by_role("link", name="Sign in to accept").click()
    sign_in_at_identity(other, viewer)
    other.wait_for_url(link)
    other.get_by_role("button", name="Accept the invitation").click()
    other.wait_for_url(team_url)
    assert other.locator("#your-role").inner_text() == "viewer"
    other.get_by_role("link", name="Team members").click()
    assert other.get_by_role("button", name="Send the invitation").count() == 0

    # The server refuses it too: a well-formed invitation with a valid CSRF token.
    agency = json.loads((stack.var / "console" / "agency.json").read_text())
    cookie = next(c["value"] for c in viewer_context.cookies() if c["name"] == "console_session")
    path = f"/teams/{team}/invitations"
    refused = other.request.post(
        stack.console_url + path,
        form={
            "csrf_token": csrf_tokens(agency["client_secret"]).issue(cookie, path),
            "email": "someone@example.com",
            "role": "administrator",
        },
        max_redirects=0,
    )
    assert refused.status == 403

    page.goto(team_url + "/audit")
    actions = page.locator("#audit td[data-action]").evaluate_all(
        "cells => cells.map(c => c.dataset.action)"
    )
    assert actions == ["accept_invitation", "invite_member", "sign_up_agency"]

    page.get_by_role("link", name="简体中文").click()
    assert page.locator("h1").inner_text() == "审计记录"
    assert page.locator("html").get_attribute("lang") == "zh-Hans"
    viewer_context.close()
    admin_context.close()
