"""The console's payment pages against real identity and payments, on SQLite and
PostgreSQL: a team lists, filters, exports and reads its own payments only (the
payment of another agency is 404), a refunder refunds after confirming (once per
confirmation, payments' refusals shown on the form, audited), and the roles
without the refunder permission are refused on the server."""

from __future__ import annotations

import csv
import io
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from html import unescape
from urllib.parse import urlsplit

import httpx
import pytest
from gaap.payments.v1 import payments_pb2 as pb
from gaap.payments.v1 import payments_pb2_grpc as pb_grpc

from tests.integration.console.test_console import forged_post, invite_and_accept
from tests.integration.payments.support import MAGIC, pay_on_page
from tests.support.console import Console, running_console, sign_in, sign_up
from tests.support.journey import post_form
from tests.support.platform import Platform, bearer, running_platform

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


def paid(
    platform: Platform, client_id: str, secret: str, reference: str, email: str = ""
) -> pb.Payment:
    """A payment of 10.50 GBP paid on the hosted page with the sandbox's 4242 card."""
    token = httpx.post(
        platform.token_url, data={"grant_type": "client_credentials"}, auth=(client_id, secret)
    ).json()["access_token"]
    stub = pb_grpc.PaymentsServiceStub(platform.channel("payments"))
    created = stub.CreatePayment(
        pb.CreatePaymentRequest(
            amount=1050,
            reference=reference,
            description="Parking permit",
            email=email,
            return_url="https://agency.example/done",
            idempotency_key=uuid.uuid4().hex,
        ),
        metadata=bearer(token),
    )
    # The hosted page at this payments' own address (next_url names the configured one).
    pay_on_page(platform.payments.http_url + urlsplit(created.next_url).path, MAGIC["success"])
    found: pb.Payment = stub.GetPayment(
        pb.GetPaymentRequest(payment_id=created.id), metadata=bearer(token)
    )
    assert found.state == pb.PAYMENT_STATE_SUCCESS
    return found


def test_a_team_reads_filters_and_exports_its_payments_and_a_refunder_refunds_once(
    console: Console, platform: Platform
) -> None:
    other = platform.secret_agency()
    theirs = paid(platform, other.client_id, other.client_secret, "OTHER-1")
    with httpx.Client(timeout=30) as admin, httpx.Client(timeout=30) as viewer_browser:
        sign_in(admin, console.url, console.person("ada"))
        team, secret = sign_up(admin, console.url, "Parks Agency")
        agency_id = re.search(
            r"<code>(ag_[0-9a-f]+)</code>", admin.get(f"{console.url}/teams/{team}").text
        )
        assert agency_id
        mine = paid(platform, agency_id.group(1), secret, "=HYPERLINK(1)", "ada@example.com")
        second = paid(platform, agency_id.group(1), secret, "PARKS-2")
        base = f"{console.url}/teams/{team}/payments"

        # The list: newest first, this team's only, money in the locale's format.
        listing = admin.get(base)
        assert listing.status_code == 200, listing.text[:800]
        assert listing.text.index(second.id) < listing.text.index(mine.id)
        assert theirs.id not in listing.text
        assert "£10.50" in listing.text
        assert "ending 4242" in listing.text
        chinese = admin.get(base, params={"lang": "zh-Hans"})
        assert "£10.50" in chinese.text
        assert "付款" in chinese.text
        admin.get(base, params={"lang": "en"})  # back to English for the rest
        # Filters reach payments.
        by_ref = admin.get(base, params={"reference": "PARKS-2"})
        assert second.id in by_ref.text
        assert mine.id not in by_ref.text
        by_email = admin.get(base, params={"email": "ada@example.com", "state": "success"})
        assert mine.id in by_email.text
        assert second.id not in by_email.text
        by_card = admin.get(base, params={"card_last_four": "4242"})
        assert mine.id in by_card.text
        assert admin.get(base, params={"card_last_four": "0002"}).text.count("pay_") == 0
        assert admin.get(base, params={"created_from": "2099-01-01"}).text.count("pay_") == 0
        bad = admin.get(base, params={"created_from": "31/01/2026"})
        assert bad.status_code == 400
        assert "Enter a date like 2026-01-31" in bad.text

        # The export: every filtered payment, a formula-looking cell made inert.
        exported = admin.get(base + "/export")
        assert exported.status_code == 200
        assert exported.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(exported.text)))
        assert [r["id"] for r in rows] == [second.id, mine.id]
        assert rows[1]["reference"] == "'=HYPERLINK(1)"
        assert (rows[1]["amount"], rows[1]["card last four"]) == ("10.50", "4242")

        # Another agency's payment is not found, by id.
        assert admin.get(f"{base}/{theirs.id}").status_code == 404
        assert admin.get(f"{base}/pay_nonesuch").status_code == 404

        # An administrator without the refunder permission sees no form and is refused.
        page = admin.get(f"{base}/{mine.id}")
        assert page.status_code == 200
        assert "payment.succeeded" in page.text
        assert 'id="refund"' not in page.text
        assert (
            forged_post(
                admin, console, f"/teams/{team}/payments/{mine.id}/refund", amount="1"
            ).status_code
            == 403
        )

        # A viewer reads, and is refused a refund on the server, crafted form or not.
        invite_and_accept(console, admin, team, "viewer", viewer_browser)
        assert viewer_browser.get(f"{base}/{mine.id}").status_code == 200
        crafted = {
            "confirmed": "yes",
            "amount_minor": "100",
            "expected_available": "1050",
            "idempotency_key": "k" * 32,
        }
        refused = forged_post(
            viewer_browser, console, f"/teams/{team}/payments/{mine.id}/refund", **crafted
        )
        assert refused.status_code == 403

        # The administrator gives themselves the refunder permission, then refunds.
        members = admin.get(f"{console.url}/teams/{team}/members")
        subject = re.search(rf'/teams/{team}/members/([^/"]+)/role', members.text)
        assert subject
        made = forged_post(
            admin,
            console,
            f"/teams/{team}/members/{subject.group(1)}/role",
            role="administrator",
            refunder="yes",
        )
        assert made.status_code == 303
        page = admin.get(f"{base}/{mine.id}")
        too_much = post_form(admin, page, "/refund", amount="20")
        assert too_much.status_code == 400
        assert "The amount is more than is left to refund" in too_much.text
        confirm = post_form(admin, page, "/refund", amount="4.00")
        assert confirm.status_code == 200, confirm.text[:800]
        question = unescape(confirm.text)
        assert "Refund £4.00 of £10.50 to the card ending 4242?" in question
        done = post_form(admin, confirm, "/refund")
        assert done.status_code == 303, done.text[:800]
        again = post_form(admin, confirm, "/refund")  # the same confirmation sent twice
        assert again.status_code == 303
        page = admin.get(f"{base}/{mine.id}")
        assert page.text.count("rfd_") == 1
        assert "£6.50" in page.text  # left to refund

        # Payments' refusals on a stale confirmation are the form's errors.
        stale = post_form(admin, confirm, "/refund", idempotency_key="s" * 32)
        assert stale.status_code == 400
        assert "Someone refunded this payment meanwhile" in unescape(stale.text)
        fresh = post_form(admin, page, "/refund", amount="6.50")
        over = post_form(admin, fresh, "/refund", amount_minor="700")
        assert over.status_code == 400
        assert "The amount is more than is left to refund" in over.text

        # The reconciliation report of today: two captures and the refund, as a page and a CSV.
        today = datetime.now(UTC).strftime("%Y-%m-%d")
        period = {"start": today, "end": today, "currency": "gbp"}
        report = admin.get(base + "/reconciliation", params=period)
        assert report.status_code == 200, report.text[:800]
        totals = re.findall(r'id="(?:captured|refunded|net)-total">([^<]+)<', report.text)
        assert totals == ["£21.00", "£4.00", "£17.00"]
        assert theirs.id not in report.text
        lines = list(
            csv.DictReader(
                io.StringIO(admin.get(base + "/reconciliation/export", params=period).text)
            )
        )
        assert sorted((r["kind"], r["payment id"], r["amount"]) for r in lines) == sorted(
            [
                ("capture", mine.id, "10.50"),
                ("capture", second.id, "10.50"),
                ("refund", mine.id, "4.00"),
            ]
        )
        assert {r["reference"] for r in lines} == {"'=HYPERLINK(1)", "PARKS-2"}
        backwards = admin.get(base + "/reconciliation", params={**period, "start": "2099-01-01"})
        assert backwards.status_code == 400
        assert "The end date is before the start date" in backwards.text

        audit = admin.get(f"{console.url}/teams/{team}/audit")
        assert "Refunded a payment" in audit.text
        assert f"payment_id: {mine.id}" in audit.text
        assert "amount: 400" in audit.text


def test_developers_manage_the_teams_webhooks_and_viewers_are_refused(
    console: Console, platform: Platform
) -> None:
    with (
        httpx.Client(timeout=30) as admin,
        httpx.Client(timeout=30) as viewer_browser,
        httpx.Client(timeout=30) as stranger,
    ):
        sign_in(admin, console.url, console.person("ada"))
        team, _ = sign_up(admin, console.url, "Parks Agency")
        base = f"{console.url}/teams/{team}/webhooks"
        page = admin.get(base)
        assert page.status_code == 200, page.text[:800]
        assert "No webhooks yet." in page.text

        bad = post_form(admin, page, "/webhooks", url="ftp://agency.example/hook")
        assert bad.status_code == 400
        assert "Enter an https URL" in unescape(bad.text)
        created = post_form(
            admin,
            page,
            "/webhooks",
            url="http://127.0.0.1:9/hook",
            **{"event_payment.succeeded": "yes"},
        )
        assert created.status_code == 200, created.text[:800]
        secret = re.search(r'id="signing-secret">([^<]+)<', created.text)
        assert secret
        again = post_form(
            admin,
            page,
            "/webhooks",
            url="http://127.0.0.1:9/hook",
            **{"event_payment.succeeded": "yes"},
        )  # the same form sent twice: one subscription
        assert again.status_code == 200
        listing = admin.get(base)
        assert listing.text.count("http://127.0.0.1:9/hook</code>") == 1
        assert secret.group(1) not in listing.text
        subscription = re.search(rf'href="/teams/{team}/webhooks/(whs_[^"]+)"', listing.text)
        assert subscription
        one = f"{base}/{subscription.group(1)}"

        deliveries = admin.get(one)
        tested = post_form(admin, deliveries, "/test")
        assert tested.status_code == 303
        deliveries = admin.get(one)
        assert "webhook.test" in deliveries.text
        sent_again = post_form(admin, deliveries, "/redeliver")
        assert sent_again.status_code == 303
        assert admin.get(one).text.count("<code>webhook.test</code>") == 2

        # A viewer and another team's member are refused, the latter without the team disclosed.
        invite_and_accept(console, admin, team, "viewer", viewer_browser)
        assert viewer_browser.get(base).status_code == 403
        assert (
            forged_post(
                viewer_browser, console, f"/teams/{team}/webhooks/{subscription.group(1)}/disable"
            ).status_code
            == 403
        )
        sign_in(stranger, console.url, console.person("eve"))
        their_team, _ = sign_up(stranger, console.url, "Other Agency")
        assert (
            stranger.get(
                f"{console.url}/teams/{their_team}/webhooks/{subscription.group(1)}"
            ).status_code
            == 404
        )
        assert stranger.get(one).status_code == 404

        disabled = post_form(admin, admin.get(base), "/disable")
        assert disabled.status_code == 303
        assert "Disabled" in admin.get(base).text
        refused = forged_post(
            admin,
            console,
            f"/teams/{team}/webhooks/{subscription.group(1)}/test",
            request_id="x" * 24,
        )
        assert refused.status_code == 409

        audit = admin.get(f"{console.url}/teams/{team}/audit").text
        for words in (
            "Added a payments webhook",
            "Sent a test webhook event",
            "Sent a webhook delivery again",
            "Disabled a payments webhook",
        ):
            assert words in audit
        assert secret.group(1) not in audit
