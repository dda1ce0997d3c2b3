"""The app's notify templates, created (or brought up to date) when it starts.

Each template's id is kept in the app's database; a restart finds it again and
updates it only if its wording here changed, so starting is idempotent.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from gaap.notify.v1 import notify_pb2 as pb

from gaap_client import GaapClient
from gaap_client.errors import NotFound
from services.demo_app.service_layer.unit_of_work import DemoTransactions


@dataclass(frozen=True)
class Wording:
    language: str
    subject: str
    body: str


@dataclass(frozen=True)
class TemplateSpec:
    key: str  # the name under which its id is kept
    channel: pb.Channel.ValueType
    name: str
    wordings: tuple[Wording, ...]

    def contents(self) -> list[pb.TemplateContent]:
        return [
            pb.TemplateContent(language=w.language, subject=w.subject, body=w.body)
            for w in self.wordings
        ]

    def fingerprint(self) -> str:
        text = "\0".join(
            [self.name, *(f"{w.language}\0{w.subject}\0{w.body}" for w in self.wordings)]
        )
        return hashlib.sha256(text.encode()).hexdigest()[:32]


CONFIRMATION_EMAIL = TemplateSpec(
    key="template.confirmation_email",
    channel=pb.CHANNEL_EMAIL,
    name="Parking permit: application confirmed (email)",
    wordings=(
        Wording(
            "en",
            "Your residents' parking permit application ((reference))",
            "# We have your application\n\n"
            "Dear ((name)),\n\n"
            "We have received your application for a residents' parking permit and your "
            "payment of ((amount)).\n\n"
            "* Reference: ((reference))\n"
            "* Vehicle: ((vehicle))\n"
            "* Postcode: ((postcode))\n\n"
            "We will email you again when your permit is ready.",
        ),
        Wording(
            "zh-Hans",
            "您的居民停车许可申请 ((reference))",
            "# 我们已收到您的申请\n\n"
            "((name))，您好：\n\n"
            "我们已收到您的居民停车许可申请和 ((amount)) 的付款。\n\n"
            "* 申请编号：((reference))\n"
            "* 车辆：((vehicle))\n"
            "* 邮编：((postcode))\n\n"
            "许可证办好后，我们会再发电子邮件通知您。",
        ),
    ),
)

CONFIRMATION_SMS = TemplateSpec(
    key="template.confirmation_sms",
    channel=pb.CHANNEL_SMS,
    name="Parking permit: application confirmed (SMS)",
    wordings=(
        Wording(
            "en",
            "",
            "Parking permits: we have your application ((reference)) and your payment of "
            "((amount)). We will email you when your permit is ready.",
        ),
        Wording("zh-Hans", "", "停车许可：我们已收到您的申请 ((reference)) 和 ((amount)) 的付款。"),
    ),
)

TEMPLATES = (CONFIRMATION_EMAIL, CONFIRMATION_SMS)


def ensure_templates(client: GaapClient, transactions: DemoTransactions) -> dict[str, str]:
    """The id of each template in ``TEMPLATES``, creating or updating it as needed."""
    return {spec.key: _ensure(client, transactions, spec) for spec in TEMPLATES}


def _ensure(client: GaapClient, transactions: DemoTransactions, spec: TemplateSpec) -> str:
    with transactions() as uow:
        template_id = uow.kept.get(spec.key)
        fingerprint = uow.kept.get(spec.key + ".fingerprint")
    if template_id:
        try:
            client.notify.GetTemplate(pb.GetTemplateRequest(template_id=template_id))
        except NotFound:
            template_id = None
    if template_id and fingerprint != spec.fingerprint():
        client.notify.UpdateTemplate(
            pb.UpdateTemplateRequest(
                template_id=template_id,
                name=spec.name,
                contents=spec.contents(),
                idempotency_key=f"demo-update-{template_id}-{spec.fingerprint()}",
            )
        )
    if not template_id:
        template_id = client.notify.CreateTemplate(
            pb.CreateTemplateRequest(
                channel=spec.channel,
                name=spec.name,
                contents=spec.contents(),
                idempotency_key=f"demo-create-{spec.key}-{spec.fingerprint()}",
            )
        ).id
    _keep(transactions, {spec.key: template_id, spec.key + ".fingerprint": spec.fingerprint()})
    return template_id


def _keep(transactions: DemoTransactions, values: dict[str, str]) -> None:
    with transactions() as uow:
        kept = uow.kept
        for name, value in values.items():
            kept.put(name, value)


PAYMENT_EVENTS = ("payment.succeeded", "payment.failed", "payment.cancelled")
WEBHOOK_ID = "webhook.subscription_id"
WEBHOOK_SECRET = "webhook.signing_secret"


def ensure_payment_webhook(
    client: GaapClient, transactions: DemoTransactions, url: str
) -> Callable[[], list[str]]:
    """Subscribe ``url`` to payment events once; returns a function giving the
    signing secrets to accept. The secret is shown by payments only at creation,
    so it is kept in the app's database; a subscription to the same URL whose
    secret we no longer have is disabled."""
    from gaap.payments.v1 import payments_pb2 as ppb

    with transactions() as uow:
        kept_id = uow.kept.get(WEBHOOK_ID)
        kept_secret = uow.kept.get(WEBHOOK_SECRET)
    subscriptions: list[ppb.WebhookSubscription] = []
    token = ""
    while True:
        page = client.payments.ListWebhookSubscriptions(
            ppb.ListWebhookSubscriptionsRequest(page_size=100, page_token=token)
        )
        subscriptions += page.subscriptions
        token = page.next_page_token
        if not token:
            break
    active = [s for s in subscriptions if s.url == url and not s.disabled]
    if not (kept_secret and any(s.id == kept_id for s in active)):
        created = client.payments.CreateWebhookSubscription(
            ppb.CreateWebhookSubscriptionRequest(url=url, event_types=list(PAYMENT_EVENTS))
        )
        kept_id, kept_secret = created.subscription.id, created.signing_secret
        _keep(transactions, {WEBHOOK_ID: kept_id, WEBHOOK_SECRET: kept_secret})
    for stale in active:
        if stale.id != kept_id:
            client.payments.DisableWebhookSubscription(
                ppb.DisableWebhookSubscriptionRequest(subscription_id=stale.id)
            )
    secrets = [kept_secret]
    return lambda: list(secrets)
