"""The public payment link page over HTTP on fakes: the cookie-bound CSRF token,
one payment per form, the rate limit's 429, a paused link's 410, and the team's
words escaped."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import cast

import pytest
from starlette.testclient import TestClient

from gaap_client import GaapClient
from services.console.domain.payment_links import LinkForm, PaymentLink, State
from services.console.service_layer.acting_for import ActingFor
from services.console.service_layer.payment_links import PaymentLinks
from services.console.web.base import ConsoleWeb
from services.console.web.payment_link_pages import PAY_COOKIE, payment_link_routes
from services.runtime.http import build_app
from services.runtime.pages import CsrfTokens
from services.runtime.rate_limit import LocalRateLimiter
from tests.fakes.console_acting import FakeAgencyCalls
from tests.fakes.console_payment_links import FakeLinkAgency, FakeLinkPayments
from tests.unit.console.support import Console, staff

FORM = re.compile(r'name="(csrf_token|form_key)" value="([^"]+)"')


@dataclass
class Site:
    client: TestClient
    links: PaymentLinks
    link: PaymentLink
    payments: FakeLinkPayments
    team_id: str


@pytest.fixture
def site() -> Site:
    console = Console()
    team = console.teams.sign_up(staff("ada"), "Parks Agency", "req-1").team
    agency = FakeLinkAgency()
    acting = ActingFor(console.uow, FakeAgencyCalls({team.agency_id: agency}))
    web = ConsoleWeb(
        console.sign_in,
        console.teams,
        CsrfTokens(b"k" * 32),
        "http://testserver",
        # the payment link pages call only what the fake agency holds
        cast("ActingFor[GaapClient]", acting),
    )
    web.limiter = LocalRateLimiter(lambda: 0.0)
    links = PaymentLinks(acting, console.clock)
    form = LinkForm(title="Fee <script>x</script>", amount="10", reference_label="Number")
    link = links.create(staff("ada"), team.id, form)
    client = TestClient(build_app(payment_link_routes(web)), follow_redirects=False)
    return Site(client, links, link, agency.payments, team.id)


def fields(site: Site) -> dict[str, str]:
    page = site.client.get(f"/pay/{site.link.slug}")
    assert page.status_code == 200
    return dict(FORM.findall(page.text))


def test_the_form_pays_once_and_sends_the_citizen_to_the_hosted_page(site: Site) -> None:
    page = site.client.get(f"/pay/{site.link.slug}")
    assert "Fee &lt;script&gt;x&lt;/script&gt;" in page.text
    assert "<script>x" not in page.text
    assert page.cookies.get(PAY_COOKIE)
    sent = {**dict(FORM.findall(page.text)), "reference": "A1"}
    first = site.client.post(f"/pay/{site.link.slug}", data=sent)
    assert first.status_code == 303
    assert first.headers["location"] == "https://payments.test/pay/pay_0001"
    assert (
        site.client.post(f"/pay/{site.link.slug}", data=sent).headers["location"]
        == (first.headers["location"])
    )
    assert len(site.payments.created) == 1


def test_a_token_not_signed_for_this_cookie_and_form_is_refused(site: Site) -> None:
    sent = {**fields(site), "reference": "A1"}
    other_form = {**sent, "form_key": "another"}
    assert site.client.post(f"/pay/{site.link.slug}", data=other_form).status_code == 400
    site.client.cookies.set(PAY_COOKIE, "someone-else", path="/pay")
    assert site.client.post(f"/pay/{site.link.slug}", data=sent).status_code == 400
    assert site.payments.created == []


def test_past_the_limit_a_client_waits(site: Site) -> None:
    for n in range(10):
        sent = {**fields(site), "reference": f"A{n}"}
        assert site.client.post(f"/pay/{site.link.slug}", data=sent).status_code == 303
    refused = site.client.post(f"/pay/{site.link.slug}", data={**fields(site), "reference": "B"})
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1
    assert len(site.payments.created) == 10


def test_a_paused_link_is_gone_until_resumed(site: Site) -> None:
    sent = {**fields(site), "reference": "A1"}
    site.links.set_state(staff("ada"), site.team_id, site.link.id, State.PAUSED)
    assert site.client.get(f"/pay/{site.link.slug}").status_code == 410
    assert site.client.post(f"/pay/{site.link.slug}", data=sent).status_code == 410
    assert site.payments.created == []
    site.links.set_state(staff("ada"), site.team_id, site.link.id, State.ACTIVE)
    assert site.client.post(f"/pay/{site.link.slug}", data=sent).status_code == 303


def test_errors_are_shown_on_the_form(site: Site) -> None:
    shown = site.client.post(f"/pay/{site.link.slug}", data={**fields(site), "reference": "a b"})
    assert shown.status_code == 400
    assert "The reference holds characters it may not" in shown.text
    assert site.client.get("/pay/unknownslug1").status_code == 404
