"""The demo app's use cases (service_layer/journey.py and notices.py) on in-memory
fakes: its own data in tests/fakes/demo_app.py, the platform as a small fake of
the gRPC stubs the client library exposes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, cast

import grpc
import pytest
from gaap.notify.v1 import notify_pb2 as npb
from gaap.payments.v1 import payments_pb2 as ppb

from gaap_client import GaapClient, OpenIdClient, SignInError
from gaap_client.errors import NotFound as ClientNotFound
from services.demo_app.domain.applications import State
from services.demo_app.service_layer import notices
from services.demo_app.service_layer.journey import Citizen, Journey
from services.runtime.errors import InvalidArgument, NotFound
from tests.fakes.demo_app import MemoryDemoWork, demo_transactions
from tests.fakes.transactions import FakeTransactions

FORM = {
    "full-name": "Ada Lovelace",
    "email": "ada@example.org",
    "phone": "07700 900123",
    "vehicle": "ab12 cde",
    "postcode": "sw1a 1aa",
}
CITIZEN = Citizen("sub-ada", {"name": "Ada Lovelace", "auth_time": 1_700_000_000})


@dataclass
class FakePayments:
    payments: dict[str, ppb.Payment] = field(default_factory=dict)
    created: list[ppb.CreatePaymentRequest] = field(default_factory=list)
    subscriptions: list[ppb.WebhookSubscription] = field(default_factory=list)
    disabled: list[str] = field(default_factory=list)
    reads: int = 0

    def CreatePayment(self, request: ppb.CreatePaymentRequest) -> ppb.Payment:
        self.created.append(request)
        payment = ppb.Payment(
            id=f"pay_{len(self.created)}",
            next_url=f"https://pay.example/{len(self.created)}",
            state=ppb.PAYMENT_STATE_CREATED,
            metadata=dict(request.metadata),
        )
        self.payments[payment.id] = payment
        return payment

    def GetPayment(self, request: ppb.GetPaymentRequest) -> ppb.Payment:
        self.reads += 1
        if request.payment_id not in self.payments:
            raise NotFound("no such payment")
        return self.payments[request.payment_id]

    def settle(self, payment_id: str, state: int) -> None:
        self.payments[payment_id].state = state  # type: ignore[assignment]
        self.payments[payment_id].finished = True

    def ListWebhookSubscriptions(
        self, request: ppb.ListWebhookSubscriptionsRequest
    ) -> ppb.ListWebhookSubscriptionsResponse:
        return ppb.ListWebhookSubscriptionsResponse(subscriptions=self.subscriptions)

    def CreateWebhookSubscription(
        self, request: ppb.CreateWebhookSubscriptionRequest
    ) -> ppb.CreateWebhookSubscriptionResponse:
        sub = ppb.WebhookSubscription(id=f"wh_{len(self.subscriptions) + 1}", url=request.url)
        self.subscriptions.append(sub)
        return ppb.CreateWebhookSubscriptionResponse(
            subscription=sub, signing_secret=f"secret-{sub.id}"
        )

    def DisableWebhookSubscription(
        self, request: ppb.DisableWebhookSubscriptionRequest
    ) -> ppb.WebhookSubscription:
        self.disabled.append(request.subscription_id)
        for sub in self.subscriptions:
            if sub.id == request.subscription_id:
                sub.disabled = True
        return ppb.WebhookSubscription(id=request.subscription_id, disabled=True)


@dataclass
class FakeNotify:
    templates: dict[str, npb.Template] = field(default_factory=dict)
    updates: list[str] = field(default_factory=list)
    sent: list[Any] = field(default_factory=list)

    def CreateTemplate(self, request: npb.CreateTemplateRequest) -> npb.Template:
        template = npb.Template(id=f"tpl_{len(self.templates) + 1}", name=request.name)
        self.templates[template.id] = template
        return template

    def GetTemplate(self, request: npb.GetTemplateRequest) -> npb.Template:
        if request.template_id not in self.templates:
            raise ClientNotFound(grpc.StatusCode.NOT_FOUND, "no such template")
        return self.templates[request.template_id]

    def UpdateTemplate(self, request: npb.UpdateTemplateRequest) -> npb.Template:
        self.updates.append(request.template_id)
        return self.templates[request.template_id]

    def SendEmail(self, request: npb.SendEmailRequest) -> npb.Notification:
        self.sent.append(request)
        return npb.Notification(id=f"ntf_{len(self.sent)}", channel=npb.CHANNEL_EMAIL)

    def SendSms(self, request: npb.SendSmsRequest) -> npb.Notification:
        self.sent.append(request)
        return npb.Notification(id=f"ntf_{len(self.sent)}", channel=npb.CHANNEL_SMS)


@dataclass
class Platform:
    payments: FakePayments = field(default_factory=FakePayments)
    notify: FakeNotify = field(default_factory=FakeNotify)

    @property
    def client(self) -> GaapClient:
        return cast(GaapClient, SimpleNamespace(payments=self.payments, notify=self.notify))


@pytest.fixture
def platform() -> Platform:
    return Platform()


@pytest.fixture
def work() -> FakeTransactions[MemoryDemoWork]:
    return demo_transactions()


def _journey(
    platform: Platform, work: FakeTransactions[MemoryDemoWork], oidc: Any = None
) -> Journey:
    templates = {notices.CONFIRMATION_EMAIL.key: "tpl_e", notices.CONFIRMATION_SMS.key: "tpl_s"}
    return Journey(
        platform.client,
        cast(OpenIdClient, oidc),
        work,
        templates,
        public_url="https://demo.example",
        fee=2500,
    )


# -- applying --------------------------------------------------------------------------


def test_apply_stores_the_application_then_creates_its_payment_once_per_application(
    platform: Platform, work: FakeTransactions[MemoryDemoWork]
) -> None:
    journey = _journey(platform, work)
    application = journey.apply(CITIZEN, FORM, "en")
    (request,) = platform.payments.created
    assert request.idempotency_key == f"{application.id}-payment"
    assert request.amount == 2500
    assert request.metadata["application_id"] == application.id
    assert request.return_url == f"https://demo.example/applications/{application.id}/return"
    stored = work.state.applications.rows[application.id]
    assert stored.payment_id == "pay_1"
    assert stored.state is State.AWAITING_PAYMENT
    assert stored.form.vehicle == "AB12CDE"
    assert stored.form.postcode == "SW1A 1AA"


def test_a_bad_form_is_refused_before_anything_is_stored_or_created(
    platform: Platform, work: FakeTransactions[MemoryDemoWork]
) -> None:
    with pytest.raises(InvalidArgument) as refused:
        _journey(platform, work).apply(CITIZEN, {**FORM, "postcode": "nowhere"}, "en")
    assert [v.field for v in refused.value.violations] == ["postcode"]
    assert work.state.applications.rows == {}
    assert platform.payments.created == []


def test_a_citizen_sees_only_their_own_applications(
    platform: Platform, work: FakeTransactions[MemoryDemoWork]
) -> None:
    journey = _journey(platform, work)
    mine = journey.apply(CITIZEN, FORM, "en")
    other = Citizen("sub-other", {})
    with pytest.raises(NotFound):
        journey.application(other, mine.id)
    assert journey.applications(other) == []
    assert [a.id for a in journey.applications(CITIZEN)] == [mine.id]


# -- what payments tells us ----------------------------------------------------------------


def test_a_paid_webhook_confirms_once_and_sends_both_notices(
    platform: Platform, work: FakeTransactions[MemoryDemoWork]
) -> None:
    journey = _journey(platform, work)
    application = journey.apply(CITIZEN, FORM, "en")
    platform.payments.settle("pay_1", ppb.PAYMENT_STATE_SUCCESS)
    journey.payment_event("evt_1", {"payment": {"id": "pay_1"}})
    confirmed = work.state.applications.rows[application.id]
    assert confirmed.state is State.CONFIRMED
    assert [m.idempotency_key for m in platform.notify.sent] == [
        f"{application.id}-email",
        f"{application.id}-sms",
    ]
    assert (confirmed.email_notification_id, confirmed.sms_notification_id) == ("ntf_1", "ntf_2")
    reads = platform.payments.reads
    journey.payment_event("evt_1", {"payment": {"id": "pay_1"}})  # a retried delivery
    assert platform.payments.reads == reads
    assert len(platform.notify.sent) == 2


def test_the_platform_record_not_the_webhook_body_decides(
    platform: Platform, work: FakeTransactions[MemoryDemoWork]
) -> None:
    journey = _journey(platform, work)
    application = journey.apply(CITIZEN, FORM, "en")
    # The body claims success; payments says the payment is still open.
    journey.payment_event("evt_1", {"payment": {"id": "pay_1", "state": "PAYMENT_STATE_SUCCESS"}})
    assert work.state.applications.rows[application.id].state is State.AWAITING_PAYMENT
    assert platform.notify.sent == []


def test_a_failed_payment_marks_the_application_and_sends_nothing(
    platform: Platform, work: FakeTransactions[MemoryDemoWork]
) -> None:
    journey = _journey(platform, work)
    application = journey.apply(CITIZEN, FORM, "en")
    platform.payments.settle("pay_1", ppb.PAYMENT_STATE_FAILED)
    journey.payment_event("evt_1", {"payment": {"id": "pay_1"}})
    assert work.state.applications.rows[application.id].state is State.PAYMENT_FAILED
    assert platform.notify.sent == []
    assert work.state.webhook_events.seen("evt_1")


def test_a_test_webhook_is_acknowledged_and_reads_nothing(
    platform: Platform, work: FakeTransactions[MemoryDemoWork]
) -> None:
    journey = _journey(platform, work)
    application = journey.apply(CITIZEN, FORM, "en")
    reads = platform.payments.reads
    journey.payment_event("evt_t", {"id": "evt_t", "type": "webhook.test", "subscription_id": "s"})
    assert platform.payments.reads == reads  # no payment to look up
    assert not work.state.webhook_events.seen("evt_t")
    assert work.state.applications.rows[application.id].state is State.AWAITING_PAYMENT
    assert platform.notify.sent == []


def test_a_webhook_for_a_payment_of_no_application_is_recorded_and_changes_nothing(
    platform: Platform, work: FakeTransactions[MemoryDemoWork]
) -> None:
    journey = _journey(platform, work)
    stranger = platform.payments.CreatePayment(ppb.CreatePaymentRequest(amount=1))
    platform.payments.settle(stranger.id, ppb.PAYMENT_STATE_SUCCESS)
    journey.payment_event("evt_9", {"payment": {"id": stranger.id}})
    assert work.state.webhook_events.seen("evt_9")
    assert work.state.applications.rows == {}
    assert platform.notify.sent == []


# -- signing in -----------------------------------------------------------------------------


@dataclass
class FakeOidc:
    finished: list[Mapping[str, str]] = field(default_factory=list)

    def start(self, **_: Any) -> Any:
        pending = {"url": "https://id.example/authorize?x", "state": "s", "nonce": "n"}
        return SimpleNamespace(url=pending["url"], to_dict=lambda: dict(pending))

    def finish(self, pending: Any, params: Mapping[str, str]) -> Any:
        self.finished.append(params)
        return SimpleNamespace(subject="sub-ada", profile={"name": "Ada"}, id_token="id.token.jwt")


def test_signing_in_keeps_only_a_local_next_path_and_the_result_in_the_session(
    platform: Platform, work: FakeTransactions[MemoryDemoWork], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        "services.demo_app.service_layer.journey.PendingSignIn.from_dict", lambda d: d
    )
    journey = _journey(platform, work, FakeOidc())
    assert journey.start_sign_in("cookie-1", "en", "//evil.example/x").startswith("https://id.")
    assert journey.finish_sign_in("cookie-1", {"code": "c", "state": "s"}) == "/apply"
    session = work.state.browser_sessions.load("cookie-1")
    assert session["subject"] == "sub-ada"
    assert session["pending"] is None
    assert journey.sign_out("cookie-1") == "id.token.jwt"
    assert work.state.browser_sessions.load("cookie-1") == {}


def test_a_callback_with_no_sign_in_started_is_refused(
    platform: Platform, work: FakeTransactions[MemoryDemoWork]
) -> None:
    oidc = FakeOidc()
    with pytest.raises(SignInError) as refused:
        _journey(platform, work, oidc).finish_sign_in("cookie-1", {"code": "c", "state": "s"})
    assert refused.value.error == "no_sign_in"
    assert oidc.finished == []


# -- what the app keeps between starts --------------------------------------------------------


def test_templates_are_created_once_then_reused_and_updated_when_their_text_changes(
    platform: Platform, work: FakeTransactions[MemoryDemoWork]
) -> None:
    first = notices.ensure_templates(platform.client, work)
    assert len(platform.notify.templates) == len(notices.TEMPLATES)
    assert notices.ensure_templates(platform.client, work) == first
    assert len(platform.notify.templates) == len(notices.TEMPLATES)
    assert not platform.notify.updates
    key = notices.TEMPLATES[0].key
    work.state.kept.put(key + ".fingerprint", "an older text")
    notices.ensure_templates(platform.client, work)
    assert platform.notify.updates == [first[key]]


def test_a_template_deleted_on_the_platform_is_created_again(
    platform: Platform, work: FakeTransactions[MemoryDemoWork]
) -> None:
    first = notices.ensure_templates(platform.client, work)
    key = notices.TEMPLATES[0].key
    del platform.notify.templates[first[key]]
    again = notices.ensure_templates(platform.client, work)
    assert again[key] != first[key]
    assert again[key] in platform.notify.templates


def test_the_payment_webhook_is_subscribed_once_and_a_stale_one_disabled(
    platform: Platform, work: FakeTransactions[MemoryDemoWork]
) -> None:
    url = "https://demo.example/webhooks/payments"
    platform.payments.subscriptions.append(ppb.WebhookSubscription(id="wh_old", url=url))
    secrets = notices.ensure_payment_webhook(platform.client, work, url)
    assert secrets() == ["secret-wh_2"]
    assert platform.payments.disabled == ["wh_old"]
    assert notices.ensure_payment_webhook(platform.client, work, url)() == ["secret-wh_2"]
    assert [s.id for s in platform.payments.subscriptions] == ["wh_old", "wh_2"]
