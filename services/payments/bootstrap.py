"""payments' composition root."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from services.payments import metrics
from services.payments.adapters import tables
from services.payments.adapters.at_rest import open_sealed, service_secret
from services.payments.adapters.direct import DirectPostgres
from services.payments.adapters.sandbox import SandboxProvider
from services.payments.adapters.stripe_provider import StripeProvider
from services.payments.adapters.unit_of_work import SqlPaymentsTransactions
from services.payments.adapters.webhooks_sql import secret_lookup
from services.payments.api.grpc import POLICY, PaymentsServicer, RateLimits, payments_service
from services.payments.service_layer.checkout import Checkout
from services.payments.service_layer.page_links import PageLinks
from services.payments.service_layer.payments import PaymentsService
from services.payments.service_layer.providers import Providers
from services.payments.service_layer.stripe_events import StripeEvents
from services.payments.service_layer.subscriptions import WebhookSubscriptions
from services.payments.service_layer.sweeper import Sweeper
from services.payments.service_layer.unit_of_work import PaymentsTransactions
from services.payments.settings import PaymentsSettings
from services.payments.web.app import PaymentPages, create_app
from services.runtime import bootstrap, rate_limit, sealing, webhook_signing, webhooks
from services.runtime.clock import Clock
from services.runtime.config import PlatformSettings
from services.runtime.db_types import utcnow
from services.runtime.keys import JwksFetcher
from services.runtime.pages import CsrfTokens
from services.runtime.periodic import PeriodicJob
from services.runtime.process import ServiceSpec

MIGRATIONS = Path(__file__).parent / "migrations"
# Agency webhooks: retried after 1 minute, 5 minutes, 1 hour, 1 day, 2 days.
WEBHOOK_RETRIES = webhooks.RetryPolicy(
    delays=(
        timedelta(minutes=1),
        timedelta(minutes=5),
        timedelta(hours=1),
        timedelta(days=1),
        timedelta(days=2),
    )
)
WEBHOOK_TIMEOUT_SECONDS = 5.0


@dataclass
class PaymentsApp:
    """payments' parts, for tests and benchmarks as much as for ``main``."""

    database: bootstrap.Database
    uow: PaymentsTransactions
    providers: Providers
    payments: PaymentsService
    checkout: Checkout
    subscriptions: WebhookSubscriptions
    outbox: webhooks.Outbox
    sweeper: Sweeper
    stripe_events: StripeEvents
    links: PageLinks
    csrf: CsrfTokens
    clock: Clock


def open_payments(
    platform: PlatformSettings,
    settings: PaymentsSettings,
    *,
    clock: Clock = utcnow,
    webhook_sender: webhooks.Sender | None = None,
) -> PaymentsApp:
    database = bootstrap.open_database(platform, settings, MIGRATIONS)
    sealer = sealing.Sealer.from_setting(settings.key_encryption_key, "PAYMENTS_KEY_ENCRYPTION_KEY")
    # Repositories seal and unseal with it (webhook signing secrets).
    database.sessions.configure(info={sealing.SESSION_KEY: sealer})
    # Real money (a Stripe key that is not a test-mode key) needs sealed secrets.
    real_money = bool(settings.stripe_api_key) and not settings.stripe_api_key.startswith(
        ("sk_test_", "rk_test_")
    )
    open_sealed(database.sessions, sealer, live=real_money)
    page_secret = service_secret(database.sessions, "page")
    csrf_secret = service_secret(database.sessions, "csrf")
    sandbox = SandboxProvider(database.sessions)
    live = (
        StripeProvider(settings.stripe_api_key, api_base=settings.stripe_api_base)
        if settings.stripe_api_key
        else None
    )
    providers = Providers(sandbox, live)
    # Units of work on the database; the one-statement create and get on PostgreSQL.
    uow: PaymentsTransactions = SqlPaymentsTransactions(
        database.sessions, DirectPostgres(database.direct)
    )
    payments = PaymentsService(uow, providers, max_amount=settings.max_amount, clock=clock)
    outbox = webhooks.Outbox(
        database.sessions,
        tables.webhook_deliveries,
        tables.webhook_attempts,
        prepare=webhooks.signed_json(secret_lookup, "GaaP-Payments-Webhooks/1"),
        policy=WEBHOOK_RETRIES,
        sender=webhook_sender
        or webhooks.http_sender(platform.egress, seconds=WEBHOOK_TIMEOUT_SECONDS),
        clock=clock,
    )
    checkout = Checkout(uow, providers, clock=clock)
    return PaymentsApp(
        database=database,
        uow=uow,
        providers=providers,
        payments=payments,
        checkout=checkout,
        subscriptions=WebhookSubscriptions(
            uow, egress=platform.egress, new_secret=webhook_signing.new_secret, clock=clock
        ),
        outbox=outbox,
        sweeper=Sweeper(uow, providers, payments, checkout, clock=clock),
        stripe_events=StripeEvents(uow, clock=clock),
        links=PageLinks(page_secret, settings.public_url),
        csrf=CsrfTokens(csrf_secret),
        clock=clock,
    )


def build(platform: PlatformSettings, settings: PaymentsSettings) -> ServiceSpec:
    return serve(platform, settings, open_payments(platform, settings))


def serve(
    platform: PlatformSettings,
    settings: PaymentsSettings,
    app: PaymentsApp,
    *,
    jwks: JwksFetcher | None = None,
) -> ServiceSpec:
    """The running service around ``app`` (tests pass one with a fake clock,
    benchmarks a static JWKS)."""
    verifier = bootstrap.token_verifier("payments", platform, fetch=jwks)
    metrics.register(app.database.sessions)
    limits = RateLimits(
        rate_limit.connect(platform.redis_url, "gaap:payments"),
        writes_per_second=settings.create_rate_per_second,
        reads_per_second=settings.read_rate_per_second,
    )
    servicer = PaymentsServicer(app.payments, app.subscriptions, app.links, limits, clock=app.clock)
    pages = PaymentPages(app.checkout, app.links, app.csrf)
    return bootstrap.assemble(
        "payments",
        platform,
        settings,
        verifier,
        bootstrap.Parts(
            grpc_services=[payments_service(servicer)],
            policy=POLICY,
            database=app.database,
            http_app=create_app(pages, app.stripe_events, settings.webhook_secrets),
            jobs=[
                PeriodicJob(
                    "payments-sweeper", settings.sweep_interval_seconds, app.sweeper.run_once
                ),
                PeriodicJob(
                    "payments-webhooks", settings.webhook_interval_seconds, app.outbox.dispatch_due
                ),
            ],
            on_stop=[app.outbox.close, app.database.close],
            public_url=settings.public_url,
            dpop_nonce_secret=(
                bytes.fromhex(service_secret(app.database.sessions, "dpop_nonce"))
                if settings.dpop_nonces
                else b""
            ),
        ),
    )
