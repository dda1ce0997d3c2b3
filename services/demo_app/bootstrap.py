"""The demo app's composition root: settings -> database, client library,
platform set-up (templates, webhook subscription), pages, HTTP server."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy.engine import Engine

from gaap_client import Credentials, DpopKey, GaapClient, OpenIdClient, PrivateKeyJwt, Targets
from gaap_client.client import agency_credentials
from gaap_client.errors import GaapError
from services.demo_app.adapters.unit_of_work import transactions
from services.demo_app.service_layer.journey import Journey
from services.demo_app.service_layer.notices import ensure_payment_webhook, ensure_templates
from services.demo_app.settings import DemoAppSettings
from services.demo_app.web.app import DemoPages, Sinks, create_app
from services.runtime import db
from services.runtime.config import PlatformSettings
from services.runtime.errors import StartupError
from services.runtime.http import HttpServer, bind, metrics_app
from services.runtime.pages import CsrfTokens

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).parent / "migrations"
SETUP_TIMEOUT = 60.0


@dataclass
class RunningDemoApp:
    server: HttpServer
    metrics: HttpServer
    client: GaapClient
    journey: Journey
    url: str
    engine: Engine

    @property
    def metrics_url(self) -> str:
        return f"http://{self.metrics.sock.getsockname()[0]}:{self.metrics.port}"

    def stop(self, grace: float = 5.0) -> None:
        self.server.stop(grace)
        self.metrics.stop(grace)
        self.client.close()
        self.engine.dispose()


@dataclass(frozen=True)
class Agency:
    """The agency's saved registration (``var/demo/agency.json``): its credentials
    and, under the fapi2 profile, the DPoP key its tokens are bound to (the same
    in every replica, so that any of them may use a token another obtained)."""

    token_endpoint: str
    credentials: Credentials
    fapi2: bool
    dpop_key: DpopKey | None
    secret: bytes  # what the app's own keys (CSRF) derive from: its secret or private key


def _agency(path: Path) -> Agency:
    try:
        saved = json.loads(path.read_text())
        pem = saved.get("dpop_private_key")
        credentials = agency_credentials(saved)
        if isinstance(credentials, PrivateKeyJwt):
            credentials.jwk()  # parsed now: a bad key stops the start, not the first call
        return Agency(
            str(saved["token_endpoint"]),
            credentials,
            saved.get("profile") == "fapi2",
            DpopKey.from_pem(str(pem)) if pem else None,
            str(saved.get("client_secret") or saved["private_key"]).encode(),
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise StartupError(f"cannot read the agency's credentials in {path}: {exc}") from None


def start(platform: PlatformSettings, settings: DemoAppSettings) -> RunningDemoApp:
    """Bind, set up what the app needs on the platform, and serve."""
    sock = bind(settings.http_address)
    try:
        metrics_sock = bind(settings.metrics_address)
    except StartupError:
        sock.close()
        raise
    port = sock.getsockname()[1]
    public_url = settings.resolved_public_url()
    if settings.http_address.endswith(":0") and not settings.public_url:
        public_url = f"http://{settings.http_address.rpartition(':')[0]}:{port}"
    agency = _agency(settings.resolved_agency_file(platform))
    engine = db.create_engine(settings.resolved_database_url(platform))
    db.migrate(engine, MIGRATIONS)
    work = transactions(db.session_factory(engine))
    targets = Targets(
        settings.identity_target,
        settings.payments_target,
        settings.notify_target,
        identity_url=platform.issuer,
        payments_url=settings.payments_url,
        notify_url=settings.notify_url,
    )
    # Under the fapi2 profile: private_key_jwt with aud the issuer, DPoP-bound tokens.
    client = GaapClient.from_credentials(
        agency.token_endpoint,
        agency.credentials,
        targets,
        fapi2=agency.fapi2,
        issuer=platform.issuer if agency.fapi2 else "",
        dpop=agency.dpop_key or False,
    )
    deadline = time.monotonic() + SETUP_TIMEOUT
    while True:
        try:
            templates = ensure_templates(client, work)
            secrets = ensure_payment_webhook(client, work, public_url + "/webhooks/payments")
            break
        except (GaapError, httpx.HTTPError) as exc:
            if time.monotonic() > deadline:
                sock.close()
                metrics_sock.close()
                raise StartupError(f"cannot set up the demo app on the platform: {exc}") from None
            time.sleep(0.5)
    oidc = OpenIdClient(
        platform.issuer,
        agency.credentials,
        public_url + "/callback",
        fapi2=agency.fapi2,
        dpop_key=agency.dpop_key,
    )
    journey = Journey(client, oidc, work, templates, public_url=public_url, fee=settings.fee)
    csrf = CsrfTokens(hmac.new(agency.secret, b"demo-app csrf", hashlib.sha256).digest())
    pages = DemoPages(
        journey,
        csrf,
        Sinks(settings.resolved_mail_dir(platform), settings.resolved_sms_dir(platform)),
        platform.issuer + "/logout",
    )
    server = HttpServer(
        create_app(pages, secrets)(lambda: True), sock, trusted_proxies=platform.proxies
    )
    metrics = HttpServer(metrics_app(), metrics_sock)
    server.start()
    metrics.start()
    running = RunningDemoApp(server, metrics, client, journey, public_url, engine)
    log.info(
        "serving",
        extra={"http": public_url, "metrics": running.metrics_url, "service": "demo-app"},
    )
    return running
