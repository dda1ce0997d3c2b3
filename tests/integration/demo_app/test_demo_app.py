"""The demo agency app over plain HTTP against the processes ``make run`` starts:
the journey (the driver the benchmark uses), its webhook refusing unsigned
events, sign-in and CSRF guards, citizens seeing only their own applications,
and templates kept across restarts."""

from __future__ import annotations

import json
import secrets
import time
import uuid
from collections.abc import Iterator

import httpx
import pyotp
import pytest
from gaap.notify.v1 import notify_pb2 as npb
from gaap.payments.v1 import payments_pb2 as ppb

from gaap_client.webhooks import sign
from services.demo_app import bootstrap
from services.demo_app.adapters.store import KeptValues, WebhookEvents
from services.demo_app.service_layer.notices import TEMPLATES, WEBHOOK_SECRET
from services.demo_app.settings import DemoAppSettings
from services.identity.bootstrap import open_identity
from services.identity.settings import IdentitySettings
from services.runtime import db
from services.runtime.config import PlatformSettings
from tests.support import devstack
from tests.support.devstack import Devstack
from tests.support.journey import DECLINED_CARD, Citizen, follow, journey, post_form, sign_in

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devstack]:
    with devstack.running(tmp_path_factory.mktemp("demo-app") / "var") as running:
        yield running


def _platform(stack: Devstack) -> PlatformSettings:
    return PlatformSettings(issuer=stack.issuer, var_dir=stack.var)


def new_citizen(stack: Devstack) -> Citizen:
    """A citizen of their own (a TOTP code is good for one sign-in only)."""
    secret = pyotp.random_base32()
    email = f"resident-{secrets.token_hex(4)}@example.com"
    identity = open_identity(_platform(stack), IdentitySettings())
    try:
        identity.accounts.create(
            email=email,
            password="correct horse battery",
            email_verified=True,
            totp_secret=secret,
            given_name="Sam",
            family_name="Resident",
            phone_number="+447912345679",
            locale="en",
        )
    finally:
        identity.database.close()
    return Citizen(email, "correct horse battery", secret)


def test_the_journey_over_http_confirms_and_a_declined_card_does_not(stack: Devstack) -> None:
    paid = journey(stack.app_url, new_citizen(stack))
    assert paid.state == "confirmed"
    declined = journey(stack.app_url, new_citizen(stack), DECLINED_CARD)
    assert declined.state == "payment_failed"


def test_the_webhook_refuses_what_payments_did_not_sign(stack: Devstack) -> None:
    body = b'{"id":"evt_forged","type":"payment.succeeded","payment":{"id":"pay_x"}}'
    url = stack.app_url + "/webhooks/payments"
    unsigned = httpx.post(url, content=body)
    forged = httpx.post(url, content=body, headers={"Gaap-Signature": sign("whsec_guess", body)})
    assert (unsigned.status_code, forged.status_code) == (400, 400)


def test_a_replayed_webhook_is_the_same_event_whatever_its_header_says(stack: Devstack) -> None:
    """Dedupe is on the event id inside the signed body: the Gaap-Event-Id header
    is not signed, so a replay with a fresh one must not pass as a new event."""
    client = stack.demo_agency()
    try:
        payment = client.payments.CreatePayment(
            ppb.CreatePaymentRequest(
                amount=100,
                reference="REPLAY",
                description="Not an application's payment",
                return_url="https://agency.example/done",
                idempotency_key=uuid.uuid4().hex,
            )
        )
    finally:
        client.close()
    engine = db.create_engine(f"sqlite:///{stack.var / 'demo_app.db'}")
    sessions = db.session_factory(engine)
    try:
        with sessions() as session:
            secret = KeptValues(session).get(WEBHOOK_SECRET)
        assert secret
        event_id = "evt_" + uuid.uuid4().hex
        body = json.dumps(
            {"id": event_id, "type": "payment.succeeded", "payment": {"id": payment.id}}
        ).encode()
        headers = ["evt_" + uuid.uuid4().hex for _ in range(2)]
        for header in headers:
            answer = httpx.post(
                stack.app_url + "/webhooks/payments",
                content=body,
                headers={"Gaap-Signature": sign(secret, body), "Gaap-Event-Id": header},
            )
            assert answer.status_code == 200
        with sessions() as session:
            events = WebhookEvents(session)
            assert events.seen(event_id)
            assert not any(events.seen(header) for header in headers)
    finally:
        engine.dispose()


def test_applying_needs_a_signed_in_citizen_and_the_forms_token(stack: Devstack) -> None:
    anonymous = httpx.get(stack.app_url + "/apply")
    assert anonymous.status_code == 303
    assert anonymous.headers["location"].startswith("/signin")
    with httpx.Client(timeout=30) as browser:
        form = sign_in(browser, stack.app_url, new_citizen(stack))
        no_token = browser.post(stack.app_url + "/apply", data={"vehicle": "AB12CDE"})
        assert no_token.status_code == 400
        mistakes = post_form(browser, form, "/apply", vehicle="?", postcode="nowhere")
        assert mistakes.status_code == 400
        assert 'href="#vehicle"' in mistakes.text
        assert 'href="#postcode"' in mistakes.text


def test_a_citizen_sees_only_their_own_applications(stack: Devstack) -> None:
    mine = journey(stack.app_url, new_citizen(stack))
    with httpx.Client(timeout=30) as other:
        sign_in(other, stack.app_url, new_citizen(stack))
        for path in ("", "/timeline"):
            page = other.get(f"{stack.app_url}/applications/{mine.application_id}{path}")
            assert page.status_code == 404


def test_a_restart_reuses_its_templates(stack: Devstack) -> None:
    settings = DemoAppSettings(
        http_address="127.0.0.1:0",
        identity_target=stack.grpc("identity"),
        payments_target=stack.grpc("payments"),
        notify_target=stack.grpc("notify"),
        payments_url=stack.env["PAYMENTS_PUBLIC_URL"],
        notify_url=stack.env["NOTIFY_PUBLIC_URL"],
    )
    second = bootstrap.start(_platform(stack), settings)
    try:
        client = stack.demo_agency()
        names = [t.name for t in client.notify.ListTemplates(npb.ListTemplatesRequest()).templates]
        client.close()
        for spec in TEMPLATES:
            assert names.count(spec.name) == 1
    finally:
        second.stop(1)


def test_a_resident_applying_in_chinese_is_told_in_chinese(stack: Devstack) -> None:
    outcome = journey(stack.app_url, new_citizen(stack), language="zh-Hans")
    assert outcome.state == "confirmed"
    deadline = time.monotonic() + 30
    found: list[dict[str, str]] = []
    while not found and time.monotonic() < deadline:
        records = [json.loads(p.read_text()) for p in (stack.var / "sms").glob("*.json")]
        found = [r for r in records if outcome.reference in r["body"]]
        time.sleep(0.1)
    [sms] = found
    assert sms["body"].startswith(f"停车许可：我们已收到您的申请 {outcome.reference}")
    assert "£40.00" in sms["body"]


def test_a_sign_in_started_on_one_replica_finishes_on_another(stack: Devstack) -> None:
    """The replicas share the DPoP key of the agency file (``dpop_private_key``):
    the code is bound to it at the push, so any replica can redeem it."""
    settings = DemoAppSettings(
        http_address="127.0.0.1:0",
        public_url=stack.app_url,  # the same redirect URI, as behind a load balancer
        identity_target=stack.grpc("identity"),
        payments_target=stack.grpc("payments"),
        notify_target=stack.grpc("notify"),
        payments_url=stack.env["PAYMENTS_PUBLIC_URL"],
        notify_url=stack.env["NOTIFY_PUBLIC_URL"],
    )
    second = bootstrap.start(_platform(stack), settings)
    citizen = new_citizen(stack)
    callback = stack.app_url + "/callback"
    try:
        with httpx.Client(timeout=30) as browser:
            page = follow(browser, browser.get(f"{stack.app_url}/signin?next=/apply"), callback)
            page = follow(
                browser,
                post_form(browser, page, "", email=citizen.email, password=citizen.password),
                callback,
            )
            code = pyotp.TOTP(citizen.totp_secret).now()
            page = follow(browser, post_form(browser, page, "", code=code), callback)
            if 'name="decision"' in page.text:
                page = follow(browser, post_form(browser, page, "", decision="allow"), callback)
            location = page.headers["location"]
            assert location.startswith(callback)
            elsewhere = f"http://127.0.0.1:{second.server.port}" + location[len(stack.app_url) :]
            finished = browser.get(elsewhere)
            assert finished.status_code == 303, finished.text[-2000:]
            assert finished.headers["location"] == "/apply"
    finally:
        second.stop(1)
