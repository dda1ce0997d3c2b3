"""The console's whole journey in headless Chromium against the processes
``make run`` starts: the demo staff member signs up an agency, invites a team
member who signs in, creates a template and previews it, uploads a 1,000-row
CSV with 3 bad rows (the errors shown, the other 997 sent and delivered to the
mail sink), makes a payment link that a citizen pays with the 4242 card, finds
the payment, grants themself the refunder permission and refunds part of it;
the audit trail shows every action with who did it. Each role is refused, by
the server (403 to a POST with a valid CSRF token), what it may not do, and
another team's payment, template, link and audit trail are 404 to a member of
this one."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from email import policy
from email.parser import BytesParser
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from services.console.bootstrap import csrf_tokens
from tests.support import devstack
from tests.support.console_browser import invitation_link, new_person, sign_in_at_identity
from tests.support.devstack import Devstack

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, FilePayload, Page

pytestmark = pytest.mark.slow

ROWS = 1000
BAD = {101: "not-an-address", 502: "two@@example.com", 903: ""}  # data row -> recipient
DOMAIN = "list.example.com"  # the upload's recipients, told apart in the mail sink
DELIVERY_TIMEOUT = 240.0  # seconds; 997 emails through notify's worker on 2 shared cores


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devstack]:
    with devstack.running(tmp_path_factory.mktemp("journey") / "var") as running:
        yield running


def recipients_csv() -> bytes:
    lines = ["email address,name,ref"]
    for n in range(1, ROWS + 1):
        lines.append(f"{BAD.get(n, f'person{n}@{DOMAIN}')},Person {n},R-{n}")
    return ("\r\n".join(lines) + "\r\n").encode()


def delivered_to_the_list(mail: Path) -> set[str]:
    found = set()
    for eml in mail.glob("*.eml"):
        with eml.open("rb") as f:
            to = str(BytesParser(policy=policy.default).parse(f, headersonly=True)["To"])
        if to.endswith("@" + DOMAIN):
            found.add(to)
    return found


def wait_for_delivery(page: Page, progress_url: str, mail: Path, expected: int) -> None:
    """Reload the bulk send's progress page until notify counts every message
    delivered, then check the sink holds them."""
    deadline = time.monotonic() + DELIVERY_TIMEOUT
    delivered = ""
    while time.monotonic() < deadline:
        page.goto(progress_url)
        delivered = page.locator("#delivered").inner_text()
        if delivered == str(expected):
            break
        time.sleep(1)
    assert delivered == str(expected), page.locator("table").inner_text()
    assert page.locator("#failed").inner_text() == "0"
    sink = delivered_to_the_list(mail)
    assert len(sink) == expected
    assert f"person{ROWS}@{DOMAIN}" in sink
    assert all(bad not in sink for bad in BAD.values() if bad)


class Refusals:
    """POSTs a signed-in browser sends itself, with a valid CSRF token for the
    form's path, so a 403 is the server's refusal, not a missing button's."""

    def __init__(self, stack: Devstack) -> None:
        agency = json.loads((stack.var / "console" / "agency.json").read_text())
        self.tokens = csrf_tokens(agency["client_secret"])
        self.url = stack.console_url

    def post(self, context: BrowserContext, path: str, **fields: str) -> int:
        cookie = next(c["value"] for c in context.cookies() if c["name"] == "console_session")
        form: dict[str, str | float | bool] = {
            "csrf_token": self.tokens.issue(cookie, path),
            **fields,
        }
        return context.request.post(self.url + path, form=form, max_redirects=0).status

    def get(self, context: BrowserContext, path: str) -> int:
        return context.request.get(self.url + path, max_redirects=0).status


def change_role(page: Page, team_url: str, email: str, role: str, refunder: bool) -> None:
    page.goto(team_url + "/members")
    row = page.locator("#members tbody tr", has_text=email)
    row.get_by_role("combobox").select_option(role)
    row.get_by_role("checkbox").set_checked(refunder)
    row.get_by_role("button", name="Save").click()
    expected = role + (", refunder" if refunder else "")
    row = page.locator("#members tbody tr", has_text=email)
    assert row.locator("td").nth(1).inner_text() == expected


def test_the_console_journey(stack: Devstack, browser: Browser) -> None:
    refusals = Refusals(stack)
    admin_context = browser.new_context(locale="en-GB")
    page = admin_context.new_page()
    admin = stack.demo("staff")
    page.goto(stack.console_url + "/")
    page.get_by_role("link", name="Sign in").click()
    sign_in_at_identity(page, admin)
    page.wait_for_url(stack.console_url + "/")

    # sign up an agency
    page.get_by_role("link", name="Sign up an agency").click()
    page.get_by_label("Agency name").fill("Journey Permits")
    page.get_by_role("button", name="Create the agency").click()
    assert page.locator("h1").inner_text() == "Your agency is ready"
    page.get_by_role("link", name="Go to your team").click()
    team_url = page.url
    team = "/teams/" + team_url.rsplit("/", 1)[1]
    assert page.locator("#your-role").inner_text() == "administrator"

    # invite a team member (a sender) who signs in and accepts
    page.get_by_role("link", name="Team members").click()
    member = new_person(stack, f"member-{secrets.token_hex(3)}@example.com")
    page.get_by_label("Email address").fill(member.email)
    page.get_by_label("Role", exact=True).select_option("sender")
    page.get_by_role("button", name="Send the invitation").click()
    assert member.email in page.locator("#invitations").inner_text()
    link = invitation_link(stack.var / "mail", member.email)
    member_context = browser.new_context(locale="en-GB")
    other = member_context.new_page()
    other.goto(link)
    other.get_by_role("link", name="Sign in to accept").click()
    sign_in_at_identity(other, member)
    other.wait_for_url(link)
    other.get_by_role("button", name="Accept the invitation").click()
    other.wait_for_url(team_url)
    assert other.locator("#your-role").inner_text() == "sender"

    # create a template and preview it
    page.goto(team_url)
    page.get_by_role("link", name="Message templates").click()
    page.get_by_role("link", name="Create a template").click()
    page.locator("#name").fill("Permit ready")
    page.locator("#language_0").fill("en")
    page.locator("#subject_0").fill("Permit ((ref))")
    page.locator("#body_0").fill("Hello ((name)), your permit ((ref)) is ready.")
    page.get_by_role("button", name="Save the template").click()
    assert page.locator("h1").inner_text() == "Permit ready"
    template_path = "/" + page.url.split("/", 3)[3].split("?")[0]
    template_id = template_path.rsplit("/", 1)[1]
    page.get_by_label("Sample value of ((name))").fill("Ada")
    page.get_by_label("Sample value of ((ref))").fill("P-7")
    page.get_by_role("button", name="Preview", exact=True).click()
    preview = page.locator("#preview").inner_text()
    assert "Permit P-7" in preview
    assert "Hello Ada, your permit P-7 is ready." in preview

    # upload 1,000 rows, 3 of them bad: the errors shown, the rest sent
    page.goto(team_url)
    page.get_by_role("link", name="Send to a list").click()
    page.get_by_label("Template").select_option(template_id)
    csv_file: FilePayload = {
        "name": "permits.csv",
        "mimeType": "text/csv",
        "buffer": recipients_csv(),
    }
    page.locator("#file").set_input_files(files=[csv_file])
    page.get_by_role("button", name="Upload and check").click()
    assert page.locator("h1").inner_text() == "Check the list"
    assert page.locator("#good-rows").inner_text() == str(ROWS - len(BAD))
    assert page.locator("#bad-rows").inner_text() == str(len(BAD))
    problems = page.locator("table tbody tr").evaluate_all(
        "rows => rows.map(r => [...r.cells].slice(0, 2).map(c => c.innerText))"
    )
    # the header is the file's line 1, so data row n is line n + 1
    assert problems == [[str(n + 1), "email address"] for n in sorted(BAD)]
    first = page.locator(".preview").first.inner_text()
    assert "Hello Person 1, your permit R-1 is ready." in first
    page.get_by_role("button", name=f"Send {ROWS - len(BAD)} messages").click()
    assert page.locator("h1").inner_text().startswith("Bulk send")
    assert page.locator("#total").inner_text() == str(ROWS - len(BAD))
    progress_url = page.url  # delivery is waited for at the end, while the rest goes on

    # make a payment link; a citizen pays it with the 4242 card
    page.goto(team_url)
    page.get_by_role("link", name="Payment links").click()
    page.get_by_role("link", name="Make a payment link").click()
    page.get_by_label("Title").fill("Permit fee")
    page.get_by_label("An amount the person paying types, within limits").check()
    page.get_by_label("Smallest amount").fill("10")
    page.get_by_label("Largest amount").fill("200")
    page.get_by_label("What the reference is called").fill("Permit number")
    page.get_by_role("button", name="Make the payment link").click()
    assert page.locator("h1").inner_text() == "Permit fee"
    link_path = "/" + page.url.split("/", 3)[3]
    public = page.locator("#public-url").get_attribute("href")
    assert public
    reference = f"P-{secrets.randbelow(10**6)}"
    citizen_context = browser.new_context(locale="en-GB")
    citizen = citizen_context.new_page()
    citizen.goto(public)
    citizen.get_by_label("Amount to pay, in GBP").fill("42.50")
    citizen.get_by_label("Permit number").fill(reference)
    citizen.get_by_role("button", name="Continue to payment").click()
    citizen.get_by_label("Card number").fill("4242 4242 4242 4242")
    citizen.get_by_label("Expiry date").fill("12/39")
    citizen.get_by_label("Card security code").fill("123")
    citizen.get_by_label("Name on card").fill("Ada Citizen")
    citizen.get_by_role("button", name="Continue").click()
    citizen.get_by_role("button", name="Confirm payment").click()
    citizen.wait_for_url(public + "/done/*")
    assert citizen.locator("#payment-state").inner_text() == "Succeeded"
    citizen_context.close()

    # find the payment by its reference and card
    page.goto(team_url)
    page.get_by_role("link", name="Payments").click()
    page.get_by_label("Reference").fill(reference)
    page.get_by_label("Card's last 4 digits").fill("4242")
    page.get_by_role("button", name="Filter").click()
    rows = page.locator("#payments tbody tr")
    assert rows.count() == 1
    assert "£42.50" in rows.first.inner_text()
    rows.first.get_by_role("link", name=reference).click()
    payment_path = "/" + page.url.split("/", 3)[3]
    assert page.locator("#payment-state").inner_text() == "Succeeded"
    # an administrator without the refunder permission sees no refund form and is refused
    assert page.locator("#refund").count() == 0
    refund_path = payment_path + "/refund"
    assert refusals.post(admin_context, refund_path, amount="1.00") == 403

    # the administrator grants themself the refunder permission and refunds part
    change_role(page, team_url, admin["email"], "administrator", refunder=True)
    page.goto(stack.console_url + payment_path)
    page.get_by_label("Amount to refund (GBP)").fill("12.50")
    page.get_by_role("button", name="Continue").click()
    assert page.locator("#question").inner_text() == (
        "Refund £12.50 of £42.50 to the card ending 4242?"
    )
    page.get_by_role("button", name="Refund £12.50").click()
    page.wait_for_url(stack.console_url + payment_path + "*")
    assert "£12.50" in page.locator("#refund-list").inner_text()
    assert page.locator("#refundable").inner_text() == "£30.00"

    # each role is refused, on the server, what it may not do
    assert refusals.post(member_context, team + "/webhooks", url="https://example.com/h") == 403
    assert refusals.post(member_context, refund_path, amount="1.00") == 403
    change_role(page, team_url, member.email, "developer", refunder=False)
    assert (
        refusals.post(
            member_context, team + "/invitations", email="x@example.com", role="administrator"
        )
        == 403
    )
    assert refusals.post(member_context, team + "/payment-links/new", title="Fee") == 403
    # the same kind of POST, for what a developer may do, goes through (so the
    # refusals above are the roles', not the tokens')
    made = refusals.post(
        member_context,
        team + "/templates/new",
        channel="email",
        name="Developer's template",
        language_0="en",
        subject_0="Hello",
        body_0="Hello ((name)).",
    )
    assert made == 303
    change_role(page, team_url, member.email, "viewer", refunder=False)
    assert refusals.post(member_context, team + "/templates/new", name="Sneaky") == 403
    assert refusals.post(member_context, refund_path, amount="1.00") == 403
    # ... and may still read what every member reads
    assert refusals.get(member_context, payment_path) == 200

    # another team (the member signs up an agency of their own): nothing of it to
    # a member of this team only, and this team's payment, template and link are
    # not found through it, by the console nor by payments and notify
    other.goto(stack.console_url + "/agencies/new")
    other.get_by_label("Agency name").fill("Elsewhere Licensing")
    other.get_by_role("button", name="Create the agency").click()
    other.get_by_role("link", name="Go to your team").click()
    other_team = "/" + other.url.split("/", 3)[3]
    assert other_team != team
    for path in ("", "/audit", "/payments", "/templates", "/payment-links"):
        assert refusals.get(admin_context, other_team + path) == 404, path
    for path in (payment_path, template_path, link_path):
        moved = other_team + "/" + path.split("/", 3)[3]
        assert refusals.get(admin_context, moved) == 404, moved
        assert refusals.get(member_context, moved) == 404, moved
    other.goto(stack.console_url + other_team + f"/payments?reference={reference}")
    assert other.locator("#no-payments").count() == 1

    # every action in the audit trail, with who did it
    page.goto(team_url + "/audit")
    entries = page.locator("#audit tbody tr").evaluate_all(
        "rows => rows.map(r => [r.cells[1].innerText, r.cells[2].dataset.action,"
        " r.cells[3].innerText])"
    )
    who_did_what = [(who, action) for who, action, _ in reversed(entries)]
    assert who_did_what == [
        (admin["email"], "sign_up_agency"),
        (admin["email"], "invite_member"),
        (member.email, "accept_invitation"),
        (admin["email"], "create_template"),
        (admin["email"], "upload_recipients"),
        (admin["email"], "send_bulk"),
        (admin["email"], "create_payment_link"),
        (admin["email"], "change_role"),
        (admin["email"], "refund"),
        (admin["email"], "change_role"),
        (member.email, "create_template"),
        (admin["email"], "change_role"),
    ]
    details = [d for _, _, d in reversed(entries)]
    assert template_id in details[3]
    assert "rows: 997" in details[5]
    assert payment_path.rsplit("/", 1)[1] in details[8]
    assert details[7] == "refunder: true; role: administrator"
    assert details[9] == "refunder: false; role: developer"
    assert details[11] == "refunder: false; role: viewer"

    wait_for_delivery(page, progress_url, stack.var / "mail", ROWS - len(BAD))
    member_context.close()
    admin_context.close()
