"""Payment links against real identity and payments, on SQLite and PostgreSQL: a
sender's team makes a link, a citizen with no account pays through it with the
sandbox's 4242 card (one payment for a form sent twice, a cross-site form
refused), the payment shows on the link's page, a paused link refuses (410),
and a member of another team can neither see nor pause it (404)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import unescape
from urllib.parse import urlsplit

import httpx
import pytest

from tests.integration.console.test_console import forged_post
from tests.integration.payments.support import MAGIC, pay_on_page
from tests.support.console import Console, running_console, sign_in, sign_up
from tests.support.journey import post_form
from tests.support.platform import Platform, running_platform

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


LINK_FORM = {
    "title": "Fishing licence <b>2026</b>",
    "description": "One licence per angler.",
    "currency": "GBP",
    "amount_type": "range",
    "min_amount": "5",
    "max_amount": "50",
    "reference_label": "Application number",
    "reference_required": "yes",
    "reference_max_length": "12",
    "reference_characters": "letters_digits",
}


def test_a_citizen_pays_through_a_link_that_its_team_then_pauses(
    console: Console, platform: Platform
) -> None:
    with (
        httpx.Client(timeout=30) as admin,
        httpx.Client(timeout=30) as citizen,
        httpx.Client(timeout=30) as stranger,
    ):
        sign_in(admin, console.url, console.person("ada"))
        team, _ = sign_up(admin, console.url, "Rivers Agency")
        base = f"{console.url}/teams/{team}/payment-links"
        assert "Payment links" in admin.get(f"{console.url}/teams/{team}").text
        assert "no payment links yet" in admin.get(base).text

        # A bad form is shown again with its errors; nothing is made.
        new = admin.get(base + "/new")
        bad = post_form(admin, new, "/payment-links/new", **{**LINK_FORM, "max_amount": "4"})
        assert bad.status_code == 400
        assert "The largest amount must be at least the smallest" in bad.text
        made = post_form(admin, new, "/payment-links/new", **LINK_FORM)
        assert made.status_code == 303, made.text[:800]
        link_path = made.headers["location"]
        page = admin.get(console.url + link_path)
        assert "Fishing licence &lt;b&gt;2026&lt;/b&gt;" in page.text, "escaped, not markup"
        found = re.search(r'id="public-url" href="([^"]+)"', page.text)
        assert found
        public = found.group(1)
        assert re.fullmatch(re.escape(console.url) + r"/pay/[A-Za-z0-9_-]{12}", public)

        # The public page, in both languages, without signing in.
        form = citizen.get(public)
        assert form.status_code == 200
        assert "Application number" in form.text
        assert "£5.00 to £50.00" in form.text
        assert "应付金额" in citizen.get(public, params={"lang": "zh-Hans"}).text
        form = citizen.get(public, params={"lang": "en"})
        outside = post_form(citizen, form, "/pay/", amount="50.01", reference="APP-1")
        assert outside.status_code == 400
        assert "Enter an amount within the limits shown" in outside.text
        # A form posted from another site carries no console_pay cookie.
        fields = dict(re.findall(r'name="(csrf_token|form_key)" value="([^"]+)"', form.text))
        forged = stranger.post(public, data={**fields, "amount": "10", "reference": "APP-1"})
        assert forged.status_code == 400

        sent = post_form(citizen, form, "/pay/", amount="12.50", reference="APP-1")
        assert sent.status_code == 303, sent.text[:800]
        again = post_form(citizen, form, "/pay/", amount="12.50", reference="APP-1")
        assert again.headers["location"] == sent.headers["location"], "one payment per form"
        hosted = platform.payments.http_url + urlsplit(sent.headers["location"]).path
        back = pay_on_page(hosted, MAGIC["success"])
        assert back.status_code == 303
        assert back.headers["location"].startswith(public + "/done/")
        thanks = citizen.get(back.headers["location"])
        assert thanks.status_code == 200
        assert "Thank you, your payment was taken" in thanks.text
        assert "£12.50" in thanks.text

        # The link's page lists the payment; the console made it as the team's agency.
        page = admin.get(console.url + link_path)
        assert page.text.count(">APP-1</a>") == 1
        assert "Succeeded" in page.text

        # A member of another team sees nothing of the link and cannot pause it.
        sign_in(stranger, console.url, console.person("eve"))
        their_team, _ = sign_up(stranger, console.url, "Other Agency")
        link_id = link_path.rsplit("/", 1)[1]
        assert stranger.get(console.url + link_path).status_code == 404
        theirs = f"/teams/{their_team}/payment-links/{link_id}"
        assert stranger.get(console.url + theirs).status_code == 404
        assert forged_post(stranger, console, theirs + "/pause").status_code == 404
        assert forged_post(stranger, console, link_path + "/pause").status_code == 404
        assert link_id not in stranger.get(f"{console.url}/teams/{their_team}/payment-links").text

        # Paused: the public page says so (410) and takes nothing.
        paused = post_form(admin, page, "/pause")
        assert paused.status_code == 303
        assert "Paused" in admin.get(console.url + link_path).text
        refused = citizen.get(public)
        assert refused.status_code == 410
        assert "This payment link is paused" in refused.text
        late = post_form(citizen, form, "/pay/", amount="10", reference="APP-2")
        assert late.status_code == 410
        resumed = post_form(admin, admin.get(console.url + link_path), "/resume")
        assert resumed.status_code == 303
        assert citizen.get(public).status_code == 200
        assert admin.get(console.url + link_path).text.count(">APP-") == 1

        audit = unescape(admin.get(f"{console.url}/teams/{team}/audit").text)
        for action in ("Made a payment link", "Paused a payment link"):
            assert action in audit
        assert "Took payments through a payment link again" in audit
