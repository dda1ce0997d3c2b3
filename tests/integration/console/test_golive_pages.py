"""Going live and the operators' pages against real identity, on SQLite and
PostgreSQL: an administrator asks, an operator refuses with a reason then
approves (identity's agency is live; its next secret is a live one), disables
an agency with a reason (its secret stops at the token endpoint); staff who are
not operators get 404 for every operator's page and form."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import unescape

import httpx
import pyotp
import pytest

from tests.integration.console.test_console import forged_post
from tests.support.console import Console, Person, running_console, sign_in, sign_up
from tests.support.journey import post_form
from tests.support.platform import Platform, running_platform

pytestmark = pytest.mark.slow

OPERATOR = "operator-golive@example.com"
_AGENCY = re.compile(r"<code>(ag_[0-9a-f]+)</code>")
_NEW_SECRET = re.compile(r'id="client-secret" value="([^"]+)"')


@pytest.fixture(scope="module")
def platform(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    with running_platform(database_url, tmp_path_factory.mktemp("var"), real_issuer=True) as p:
        yield p


@pytest.fixture(scope="module")
def console(
    platform: Platform, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Console]:
    var = tmp_path_factory.mktemp("console")
    with running_console(platform, database_url, var, OPERATOR) as running:
        yield running


def operator(console: Console) -> Person:
    person = Person(OPERATOR, "correct horse battery staple", pyotp.random_base32())
    console.platform.admin.accounts.create(
        email=person.email,
        password=person.password,
        email_verified=True,
        totp_secret=person.totp_secret,
        given_name="Olu",
        family_name="Operator",
        locale="en",
    )
    return person


def token_status(platform: Platform, agency_id: str, secret: str) -> int:
    return httpx.post(
        platform.token_url,
        data={"grant_type": "client_credentials", "scope": "payments:create"},
        auth=(agency_id, secret),
    ).status_code


def test_asking_refusing_approving_and_disabling(console: Console, platform: Platform) -> None:
    with httpx.Client(timeout=30) as admin, httpx.Client(timeout=30) as ops:
        sign_in(admin, console.url, console.person("ada"))
        team, test_secret = sign_up(admin, console.url, "Parks Agency")
        found = _AGENCY.search(admin.get(f"{console.url}/teams/{team}").text)
        assert found
        agency_id = found.group(1)
        page_url = f"{console.url}/teams/{team}/go-live"

        # Staff who are not operators: the operators' pages do not exist for them.
        assert admin.get(console.url + "/operators/go-live").status_code == 404
        assert admin.get(console.url + "/operators/agencies").status_code == 404
        assert (
            forged_post(
                admin, console, f"/operators/agencies/{agency_id}/disable", reason="x"
            ).status_code
            == 404
        )

        page = admin.get(page_url)
        assert page.status_code == 200, page.text[:800]
        bad = post_form(admin, page, "/go-live", reason="", contact="")
        assert bad.status_code == 400
        assert 'href="#reason"' in bad.text
        asked = post_form(admin, page, "/go-live", reason="Parking permits", contact="ops@parks")
        assert asked.status_code == 303
        assert 'id="waiting"' in admin.get(page_url).text

        sign_in(ops, console.url, operator(console), "/operators/go-live")
        listing = ops.get(console.url + "/operators/go-live")
        assert "Parking permits" in listing.text
        request_id = re.search(r'action="/operators/go-live/([^/"]+)/refuse"', listing.text)
        assert request_id
        no_reason = post_form(ops, listing, "/refuse", decision_reason="")
        assert no_reason.status_code == 400
        refused = post_form(ops, listing, "/refuse", decision_reason="Tell us about <support>")
        assert refused.status_code == 303
        page = admin.get(page_url)
        assert "Tell us about &lt;support&gt;" in page.text
        assert platform.admin.registry.get(agency_id).mode == "test"

        post_form(admin, page, "/go-live", reason="With support", contact="ops@parks")
        listing = ops.get(console.url + "/operators/go-live")
        approved = post_form(ops, listing, "/approve")
        assert approved.status_code == 303
        assert platform.admin.registry.get(agency_id).mode == "live"
        assert 'id="is-live"' in admin.get(page_url).text
        assert token_status(platform, agency_id, test_secret) == 200  # for a day
        credentials = admin.get(f"{console.url}/teams/{team}/credentials")
        assert 'id="no-secret"' in credentials.text
        shown = post_form(admin, credentials, "/credentials/rotate")
        new = _NEW_SECRET.search(shown.text)
        assert new
        live_secret = unescape(new.group(1))
        assert live_secret.startswith("gaap_live_")
        assert token_status(platform, agency_id, live_secret) == 200

        agencies = ops.get(console.url + "/operators/agencies")
        assert agency_id in agencies.text
        action = f"/operators/agencies/{agency_id}/disable"
        no_reason = post_form(ops, agencies, action, reason="")
        assert no_reason.status_code == 400
        disabled = post_form(ops, agencies, action, reason="Reported for fraud")
        assert disabled.status_code == 303
        assert platform.admin.registry.get(agency_id).disabled
        assert token_status(platform, agency_id, live_secret) == 401

        audit = admin.get(f"{console.url}/teams/{team}/audit").text
        for said in (
            "Asked to go live",
            "Refused going live",
            "Approved going live",
            "Disabled the agency",
        ):
            assert said in audit
        assert live_secret not in audit
