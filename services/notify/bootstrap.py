"""notify's composition root: the API process and the worker share ``open_notify``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy.exc import SQLAlchemyError

from services.notify import metrics
from services.notify.adapters import at_rest, unit_of_work
from services.notify.adapters import callbacks as callback_sql
from services.notify.adapters.direct import DirectSends
from services.notify.adapters.email_smtp import SmtpEmailProvider
from services.notify.adapters.sending import GroupCommitSends, SqlSettingsLookup
from services.notify.adapters.sms_http import FailoverSms, HttpSmsProvider
from services.notify.api.grpc import POLICY, NotifyServicer, notify_service
from services.notify.domain.agency_settings import Defaults
from services.notify.domain.notifications import RetrySchedule
from services.notify.domain.routing import WeightedRouter
from services.notify.service_layer.agency_settings import AgencySettingsService
from services.notify.service_layer.bulk_sends import BulkSendService
from services.notify.service_layer.callbacks import CallbackService
from services.notify.service_layer.delivery import Deliverer, WorkerConfig
from services.notify.service_layer.notifications import NotificationService
from services.notify.service_layer.sending import SendingService
from services.notify.service_layer.templates import TemplateService
from services.notify.service_layer.unit_of_work import NotifyTransactions
from services.notify.service_layer.upkeep import Upkeep
from services.notify.settings import NotifySettings
from services.notify.web.receipts import receipt_routes
from services.runtime import (
    bootstrap,
    egress_http,
    rate_limit,
    sealing,
    webhook_signing,
    webhooks,
)
from services.runtime.config import PlatformSettings
from services.runtime.db_types import utcnow
from services.runtime.egress import PUBLIC_ONLY, Egress
from services.runtime.http import build_app
from services.runtime.keys import JwksFetcher
from services.runtime.periodic import PeriodicJob
from services.runtime.process import ServiceSpec

MIGRATIONS = Path(__file__).parent / "migrations"
CALLBACK_SECONDS = 5.0  # one status callback's whole exchange
SMS_SECONDS = 10.0  # one request to an SMS provider, connect to last byte of the answer


@dataclass
class Notify:
    """notify's parts, for ``main``, the worker, tests and benchmarks."""

    settings: NotifySettings
    database: bootstrap.Database
    uow: NotifyTransactions = field(repr=False)
    templates: TemplateService
    sending: SendingService  # single sends
    bulk_sends: BulkSendService
    notifications: NotificationService  # reads and cancels
    callbacks: CallbackService
    agency_settings: AgencySettingsService
    upkeep: Upkeep
    outbox: webhooks.Outbox = field(repr=False)
    egress: Egress = PUBLIC_ONLY  # where status callbacks and SMS providers may be reached

    def apply_receipt(self, provider: str, message_id: str, status: str) -> bool:
        return self.upkeep.apply_receipt(provider, message_id, status)

    def deliver_callbacks(self) -> int:
        """Every due callback once, waiting for the lanes (tools and tests)."""
        return self.outbox.deliver_due()

    def maintain(self) -> dict[str, int]:
        """Retention and timeouts, once across replicas (advisory lock)."""
        return self.upkeep.maintain()


def open_notify(
    platform: PlatformSettings,
    settings: NotifySettings,
    callback_sender: webhooks.Sender | None = None,
) -> Notify:
    database = bootstrap.open_database(platform, settings, MIGRATIONS)
    sessions = database.sessions
    sealer = sealing.Sealer.from_setting(settings.key_encryption_key, "NOTIFY_KEY_ENCRYPTION_KEY")
    # Repositories seal and unseal with it (status callbacks' signing secrets).
    sessions.configure(info={sealing.SESSION_KEY: sealer})
    at_rest.open_sealed(sessions, sealer)
    defaults = Defaults(
        settings.sms_default_region.upper(), settings.email_daily_limit, settings.sms_daily_limit
    )
    limiter = rate_limit.connect(platform.redis_url, "gaap:notify")
    limit = rate_limit.Limit.per_minute(settings.rate_per_minute, settings.rate_burst)
    uow = unit_of_work.transactions(sessions)
    direct = DirectSends(database.direct)  # PostgreSQL's single-statement sends
    return Notify(
        settings=settings,
        database=database,
        uow=uow,
        templates=TemplateService(uow),
        sending=SendingService(
            uow,
            GroupCommitSends(sessions, direct),
            SqlSettingsLookup(sessions, direct),
            limiter=limiter,
            limit=limit,
            defaults=defaults,
        ),
        bulk_sends=BulkSendService(uow, limiter, limit, defaults),
        notifications=NotificationService(uow, defaults=defaults),
        callbacks=CallbackService(uow, platform.egress, webhook_signing.new_secret),
        agency_settings=AgencySettingsService(uow, defaults),
        upkeep=Upkeep(uow, timedelta(days=settings.retention_days)),
        outbox=callback_sql.outbox(
            sessions,
            callback_sender or webhooks.http_sender(platform.egress, seconds=CALLBACK_SECONDS),
        ),
        egress=platform.egress,
    )


def build(platform: PlatformSettings, settings: NotifySettings) -> ServiceSpec:
    return serve(platform, settings, open_notify(platform, settings))


def serve(
    platform: PlatformSettings,
    settings: NotifySettings,
    notify: Notify,
    *,
    jwks: JwksFetcher | None = None,
) -> ServiceSpec:
    """The running service around ``notify`` (benchmarks pass a static JWKS)."""
    verifier = bootstrap.token_verifier("notify", platform, fetch=jwks)
    metrics.register(notify.database.sessions)
    servicer = NotifyServicer(
        notify.templates,
        notify.sending,
        notify.bulk_sends,
        notify.notifications,
        notify.callbacks,
        notify.agency_settings,
    )
    keys = {str(p["name"]): str(p["key"]) for p in settings.sms_provider_list()}
    routes = receipt_routes(keys, notify.apply_receipt)
    return bootstrap.assemble(
        "notify",
        platform,
        settings,
        verifier,
        bootstrap.Parts(
            grpc_services=[notify_service(servicer)],
            policy=POLICY,
            database=notify.database,
            http_app=lambda ready: build_app(routes, ready=ready),
            jobs=[
                # Does not wait for the lanes: a slow agency holds up only itself.
                PeriodicJob("status-callbacks", 1.0, notify.outbox.dispatch_due),
                PeriodicJob("retention", 600, notify.maintain),
            ],
            on_stop=[notify.outbox.close, notify.database.close],
            public_url=settings.public_url,
            dpop_nonce_secret=(
                at_rest.service_secret(notify.database.sessions, "dpop_nonce")
                if settings.dpop_nonces
                else b""
            ),
        ),
    )


def sms_client(notify: Notify) -> httpx.AsyncClient:
    """The client the worker's SMS providers share: through the egress guard."""
    return egress_http.async_client(notify.egress, timeout=SMS_SECONDS)


def deliverer(
    notify: Notify, http: httpx.AsyncClient, clock: Callable[[], datetime] = utcnow
) -> Deliverer:
    """The worker's sender, with the configured SMTP server and SMS providers;
    ``http`` is ``sms_client(notify)``."""
    s = notify.settings
    email = SmtpEmailProvider(
        s.smtp_host,
        s.smtp_port,
        s.email_from,
        username=s.smtp_username,
        password=s.smtp_password,
        starttls=s.smtp_starttls,
        connections=s.smtp_connections,
    )
    receipts = s.public_url.rstrip("/") + "/receipts/sms/"
    providers = {
        str(p["name"]): HttpSmsProvider(
            str(p["name"]),
            str(p["url"]),
            str(p["key"]),
            sender=s.sms_sender,
            receipts_url=receipts + str(p["name"]),
            client=http,
            seconds=SMS_SECONDS,
        )
        for p in s.sms_provider_list()
    }
    router = WeightedRouter(
        {str(p["name"]): float(p.get("weight", 1)) for p in s.sms_provider_list()}
    )
    config = WorkerConfig(
        batch=s.worker_batch,
        concurrency=s.worker_concurrency,
        lease=timedelta(seconds=s.worker_lease_seconds),
        poll_seconds=s.worker_poll_seconds,
        deliver_test_mode=s.deliver_test_mode,
        retry=RetrySchedule(period=timedelta(seconds=s.retry_period_seconds)),
    )
    return Deliverer(
        notify.uow,
        email,
        FailoverSms(providers, router),
        config,
        clock=clock,
        unavailable=(SQLAlchemyError,),  # the database is away: wait, then try again
    )
