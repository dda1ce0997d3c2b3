"""axe-core (pinned, tests/support/axe.py) over every console page in Chromium, in
English and Simplified Chinese, signed out and in, with and without form errors:
no WCAG 2.0, 2.1 or 2.2 A or AA violation.

A helper adding console pages adds their paths to ``TEAM_PAGES`` (or
``STAFF_PAGES``), and any error state a form can show to ``ERROR_STATES``."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import pytest

from tests.support import devstack
from tests.support.axe import violations
from tests.support.console_browser import invitation_link, new_person, sign_in_at_identity
from tests.support.devstack import Devstack

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.slow
LANGUAGES = ("en", "zh-Hans")
SIGNED_OUT_PAGES: tuple[str, ...] = ("/", "/invitations/{invitation}")
STAFF_PAGES = ("/", "/agencies/new", "/invitations/{invitation}", "/teams/team_missing")
TEAM_PAGES: tuple[str, ...] = ("/teams/{team}", "/teams/{team}/members", "/teams/{team}/audit")
TEAM_PAGES += ("/teams/{team}/dashboard",)
TEAM_PAGES += (
    "/teams/{team}/payments",
    "/teams/{team}/payments/reconciliation",
    "/teams/{team}/webhooks",
)


def _sign_up_error(page: Page) -> None:
    page.locator("form[action='/agencies/new'] button[type=submit]").click()


def _invite_error(page: Page) -> None:
    page.locator("#email").fill("not an address")
    page.locator("form[action$='/invitations'] button[type=submit]").click()


def _payments_filter_error(page: Page) -> None:
    page.locator("#created_from").fill("31/01/2026")
    page.locator("#filters button[type=submit]").click()


def _report_error(page: Page) -> None:
    page.locator("#start").fill("2026-02-01")
    page.locator("#end").fill("2026-01-01")
    page.locator("#period button[type=submit]").click()


def _webhook_error(page: Page) -> None:
    page.locator("#url").fill("ftp://agency.example/hook")
    page.locator("#new-webhook button[type=submit]").click()


# (page to start from, what to do there to show the form's errors)
ERROR_STATES: tuple[tuple[str, Callable[[Page], None]], ...] = (
    ("/agencies/new", _sign_up_error),
    ("/teams/{team}/members", _invite_error),
    ("/teams/{team}/payments", _payments_filter_error),
    ("/teams/{team}/payments/reconciliation", _report_error),
    ("/teams/{team}/webhooks", _webhook_error),
)

# The notify pages (web/notify_pages.py); a template's page and the send form
# need a template, which each error state makes first.
TEAM_PAGES += (
    "/teams/{team}/templates",
    "/teams/{team}/templates/new",
    "/teams/{team}/send",
    "/teams/{team}/usage",
    "/teams/{team}/callbacks",
)


def _template_error(page: Page) -> None:
    page.locator("form[action$='/templates/new'] button[type=submit]").click()


def _new_template(page: Page) -> None:
    page.locator("#name").fill("Permit")
    page.locator("#subject_0").fill("Permit ((ref))")
    page.locator("#body_0").fill("Hello ((name)), permit ((ref)).")
    page.locator("form[action$='/templates/new'] button[type=submit]").click()


def _preview_error(page: Page) -> None:
    _new_template(page)
    page.locator("#p_name").fill("Ada")
    page.locator("form[action$='/preview'] button[type=submit]").click()


def _send_error(page: Page) -> None:
    _new_template(page)
    team_url, template_id = page.url.split("?")[0].split("/templates/")
    page.goto(f"{team_url}/send?template={template_id}")
    page.locator("#recipient").fill("not an address")
    page.locator("form[method=post][action$='/send'] button[type=submit]").click()


def _callback_error(page: Page) -> None:
    page.locator("#url").fill("not a url")
    page.locator("form[action$='/callbacks'] button[type=submit]").click()


ERROR_STATES += (
    ("/teams/{team}/templates/new", _template_error),
    ("/teams/{team}/templates/new", _preview_error),
    ("/teams/{team}/templates/new", _send_error),
    ("/teams/{team}/callbacks", _callback_error),
)

# The credentials and sign-in settings pages (web/credentials_pages.py).
TEAM_PAGES += ("/teams/{team}/credentials", "/teams/{team}/sign-in-settings")


def _jwks_error(page: Page) -> None:
    page.locator("#jwks_json").fill('{"keys": []}')
    page.locator("#upload-jwks").click()


def _sign_in_settings_error(page: Page) -> None:
    page.locator("#logo_uri").fill("http://parks.example/logo.png")
    page.locator("#save").click()


ERROR_STATES += (
    ("/teams/{team}/credentials", _jwks_error),
    ("/teams/{team}/sign-in-settings", _sign_in_settings_error),
)


# Going live (web/golive_pages.py); the operators' pages need an operator's sign-in.
TEAM_PAGES += ("/teams/{team}/go-live",)


def _go_live_error(page: Page) -> None:
    page.locator("#request-go-live").click()


ERROR_STATES += (("/teams/{team}/go-live", _go_live_error),)


# The payment links' pages (web/payment_link_pages.py): the test makes a link of
# the team first ({link}; its public page is /pay/{slug}), which needs no sign-in.
TEAM_PAGES += (
    "/teams/{team}/payment-links",
    "/teams/{team}/payment-links/new",
    "/teams/{team}/payment-links/{link}",
)
SIGNED_OUT_PAGES += ("/pay/{slug}", "/pay/{slug}/done/no-such-form")


def _payment_link_error(page: Page) -> None:
    page.locator("form[action$='/payment-links/new'] button[type=submit]").click()


def _pay_error(page: Page) -> None:
    page.locator("form[action^='/pay/'] button[type=submit]").click()


ERROR_STATES += (
    ("/teams/{team}/payment-links/new", _payment_link_error),
    ("/pay/{slug}", _pay_error),
)


def _make_payment_link(page: Page, console_url: str, team: str) -> dict[str, str]:
    page.goto(f"{console_url}/teams/{team}/payment-links/new")
    page.locator("#title").fill("Accessible fee")
    page.locator("#amount").fill("12.00")
    page.locator("#reference_label").fill("Application number")
    page.locator("form[action$='/payment-links/new'] button[type=submit]").click()
    public = page.locator("#public-url").get_attribute("href") or ""
    return {"link": page.url.rsplit("/", 1)[1], "slug": public.rsplit("/", 1)[1]}


# Sending to a list and finding notifications (web/bulk_pages.py, search_pages.py):
# an upload with no file and a search with a malformed date show their errors.
TEAM_PAGES += ("/teams/{team}/upload", "/teams/{team}/notifications")


def _upload_error(page: Page) -> None:
    page.locator("form[action^='/uploads/'] button[type=submit]").click()  # no file


def _search_error(page: Page) -> None:
    page.locator("#sent_from").fill("31/01/2026")
    page.locator("form[action$='/notifications'] button[type=submit]").click()


ERROR_STATES += (
    ("/teams/{team}/upload", _upload_error),
    ("/teams/{team}/notifications", _search_error),
)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devstack]:
    with devstack.running(tmp_path_factory.mktemp("console-a11y") / "var") as running:
        yield running


def test_every_console_page_meets_wcag_2_2_aa(stack: Devstack, browser: Browser) -> None:
    context = browser.new_context(locale="en-GB")
    page = context.new_page()
    found: dict[str, list[str]] = {}

    def check(label: str) -> None:
        problems = violations(page)
        if problems:
            found[label] = [f"{v['id']}: {v['help']} at {v['nodes'][:3]}" for v in problems]

    page.goto(stack.console_url + "/")
    page.get_by_role("link", name="Sign in").click()
    sign_in_at_identity(page, stack.demo("staff"))
    page.wait_for_url(stack.console_url + "/")
    page.goto(stack.console_url + "/agencies/new")
    page.get_by_label("Agency name").fill("Accessible Agency")
    page.get_by_role("button", name="Create the agency").click()
    check("signed-up page (the secret shown once)")
    page.get_by_role("link", name="Go to your team").click()
    team = page.url.rsplit("/", 1)[1]
    invitee = new_person(stack, f"a11y-{secrets.token_hex(3)}@example.com")
    page.goto(f"{stack.console_url}/teams/{team}/members")
    page.get_by_label("Email address").fill(invitee.email)
    page.get_by_role("button", name="Send the invitation").click()
    invitation = invitation_link(stack.var / "mail", invitee.email).rsplit("/", 1)[1]
    values = {"team": team, "invitation": invitation}
    values.update(_make_payment_link(page, stack.console_url, team))

    for language in LANGUAGES:
        for path in (*STAFF_PAGES, *TEAM_PAGES):
            page.goto(f"{stack.console_url}{path.format(**values)}?lang={language}")
            check(f"{path} ({language})")
        for start, show_errors in ERROR_STATES:
            page.goto(f"{stack.console_url}{start.format(**values)}?lang={language}")
            show_errors(page)
            assert page.locator(".error-summary").count() == 1, start
            check(f"{start} with errors ({language})")

    signed_out = browser.new_context(locale="en-GB")
    page = signed_out.new_page()
    for language in LANGUAGES:
        for path in SIGNED_OUT_PAGES:
            page.goto(f"{stack.console_url}{path.format(**values)}?lang={language}")
            check(f"{path} signed out ({language})")
    signed_out.close()
    context.close()
    assert found == {}
