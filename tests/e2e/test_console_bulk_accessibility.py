"""axe-core over the pages of sending to a list that need an upload first: the
check page (bad rows and a preview) and a bulk send's progress, in both
languages (the upload form and the search are in test_console_accessibility.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from tests.support import devstack
from tests.support.axe import violations
from tests.support.console_browser import sign_in_at_identity
from tests.support.devstack import Devstack

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.slow
LIST = b"email address,name,ref\nada@example.com,Ada,P-1\nnot an address,Bo,P-2\n"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devstack]:
    with devstack.running(tmp_path_factory.mktemp("console-bulk-a11y") / "var") as running:
        yield running


def checked(page: Page, url: str, found: dict[str, list[str]], label: str) -> None:
    for language in ("en", "zh-Hans"):
        page.goto(f"{url}?lang={language}")
        problems = violations(page)
        if problems:
            found[f"{label} ({language})"] = [
                f"{v['id']}: {v['help']} at {v['nodes'][:3]}" for v in problems
            ]


def test_the_check_and_progress_pages_meet_wcag_2_2_aa(stack: Devstack, browser: Browser) -> None:
    context = browser.new_context(locale="en-GB")
    page = context.new_page()
    found: dict[str, list[str]] = {}
    page.goto(stack.console_url + "/")
    page.get_by_role("link", name="Sign in").click()
    sign_in_at_identity(page, stack.demo("staff"))
    page.wait_for_url(stack.console_url + "/")
    page.goto(stack.console_url + "/agencies/new")
    page.get_by_label("Agency name").fill("Listing Agency")
    page.get_by_role("button", name="Create the agency").click()
    page.get_by_role("link", name="Go to your team").click()
    team_url = page.url
    page.goto(team_url + "/templates/new")
    page.locator("#name").fill("Permit")
    page.locator("#subject_0").fill("Permit ((ref))")
    page.locator("#body_0").fill("Hello ((name)), permit ((ref)).")
    page.locator("form[action$='/templates/new'] button[type=submit]").click()
    template_id = page.url.split("?")[0].rsplit("/", 1)[1]

    page.goto(f"{team_url}/upload?template={template_id}")
    page.locator("#file").set_input_files(
        {"name": "people.csv", "mimeType": "text/csv", "buffer": LIST}
    )
    page.locator("form[action^='/uploads/'] button[type=submit]").click()
    assert page.locator("#bad-rows").inner_text() == "1"
    check_url = page.url
    checked(page, check_url, found, "the check page")
    page.goto(check_url + "?lang=en")
    page.get_by_role("button", name="Send 1 message").click()
    assert "/bulk-sends/" in page.url
    checked(page, page.url.split("?")[0], found, "a bulk send's progress")
    context.close()
    assert found == {}
