"""The console's composition root: settings -> database, the console's own
agency's clients (identity's sign-in and registry, notify), use cases, pages,
HTTP server."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy.engine import Engine

from gaap_client import ClientSecret, DpopKey, GaapClient, OpenIdClient, Targets, TokenSource
from services.console.adapters.agency_calls import ExchangeAgencyCalls
from services.console.adapters.identity_agencies import IdentityAgencies
from services.console.adapters.identity_registrar import IdentityRegistrar
from services.console.adapters.identity_sign_in import IdentitySignIn
from services.console.adapters.notify_mailer import NotifyMailer
from services.console.adapters.unit_of_work import transactions
from services.console.service_layer.acting_for import ActingFor
from services.console.service_layer.invitations import Invitations
from services.console.service_layer.seeding import ensure_administrator, ensure_payment_link
from services.console.service_layer.signing_in import SignIn
from services.console.service_layer.teams import Teams
from services.console.settings import ConsoleSettings
from services.console.web.app import create_app
from services.console.web.base import ConsoleWeb
from services.runtime import db, rate_limit, tls
from services.runtime.clock import Clock, utcnow
from services.runtime.config import PlatformSettings
from services.runtime.errors import StartupError
from services.runtime.http import HttpServer, bind, metrics_app
from services.runtime.pages import CsrfTokens

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).parent / "migrations"


@dataclass
class RunningConsole:
    server: HttpServer
    metrics: HttpServer
    client: GaapClient  # the console's own agency
    web: ConsoleWeb  # its pages' parts (sessions, CSRF tokens), for tests as much as for main
    url: str
    engine: Engine
    # payments and notify as a team's agency (token exchange), for the pages that need them
    acting: ActingFor[GaapClient]

    def stop(self, grace: float = 5.0) -> None:
        self.server.stop(grace)
        self.metrics.stop(grace)
        self.client.close()
        self.engine.dispose()


def read_agency(path: Path) -> dict[str, str]:
    try:
        saved = json.loads(path.read_text())
        return {k: str(saved[k]) for k in ("client_id", "client_secret", "token_endpoint")}
    except (OSError, ValueError, KeyError) as exc:
        raise StartupError(
            f"cannot read the console's agency credentials in {path}: {exc}"
        ) from None


def csrf_tokens(client_secret: str) -> CsrfTokens:
    """The pages' CSRF tokens, keyed from the console agency's secret: every
    replica with the same credentials checks the same tokens."""
    return CsrfTokens(hmac.new(client_secret.encode(), b"console csrf", hashlib.sha256).digest())


def open_database(platform: PlatformSettings, settings: ConsoleSettings) -> Engine:
    """The console's database, migrated (for ``make run``'s demo staff too)."""
    engine = db.create_engine(settings.resolved_database_url(platform))
    db.migrate(engine, MIGRATIONS)
    return engine


def seed_administrator(
    platform: PlatformSettings,
    settings: ConsoleSettings,
    *,
    agency_id: str,
    team_name: str,
    subject: str,
    email: str,
) -> None:
    """``make run``'s demo staff member: administrator of the demo agency's team."""
    engine = open_database(platform, settings)
    try:
        ensure_administrator(
            transactions(db.session_factory(engine)),
            agency_id=agency_id,
            team_name=team_name,
            subject=subject,
            email=email,
        )
    finally:
        engine.dispose()


def seed_payment_link(
    platform: PlatformSettings, settings: ConsoleSettings, *, agency_id: str
) -> str:
    """``make run``'s demo payment link for the demo agency's team: its public URL."""
    engine = open_database(platform, settings)
    try:
        link = ensure_payment_link(transactions(db.session_factory(engine)), agency_id=agency_id)
    finally:
        engine.dispose()
    return f"{settings.resolved_public_url()}/pay/{link.slug}"


def start(
    platform: PlatformSettings, settings: ConsoleSettings, clock: Clock = utcnow
) -> RunningConsole:
    agency = read_agency(settings.resolved_agency_file(platform))
    sock = bind(settings.http_address)
    try:
        metrics_sock = bind(settings.metrics_address)
    except StartupError:
        sock.close()
        raise
    public_url = settings.resolved_public_url()
    if settings.http_address.endswith(":0") and not settings.public_url:
        public_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    credentials = ClientSecret(agency["client_id"], agency["client_secret"])
    engine = open_database(platform, settings)
    work = transactions(db.session_factory(engine))
    # With certificates configured (production), every call to the services is TLS.
    secure = bool(platform.tls_cert_file or platform.tls_ca_file)
    http = httpx.Client(timeout=10, verify=tls.client_context(platform))
    targets = Targets(
        settings.identity_target,
        settings.payments_target,
        settings.notify_target,
        identity_url=platform.issuer,
        payments_url=settings.payments_url,
        notify_url=settings.notify_url,
    )
    channel_credentials = tls.channel_credentials(platform) if secure else None
    client = GaapClient(
        TokenSource(agency["token_endpoint"], credentials, http=http),
        targets,
        channel_credentials=channel_credentials,
    )
    acting = ActingFor(
        work,
        ExchangeAgencyCalls(
            agency["token_endpoint"],
            credentials,
            targets,
            http=http,
            channel_credentials=channel_credentials,
            # Every token the console gets for an agency is bound to this process's
            # key (RFC 9449): a leaked one is useless elsewhere, and agencies that
            # must bind theirs (the fapi2 profile) get one at all.
            dpop=DpopKey.generate(),
        ),
    )
    oidc = OpenIdClient(platform.issuer, credentials, public_url + "/callback", http=http)
    sign_in = SignIn(work, IdentitySignIn(oidc), settings.operators(), clock)
    teams = Teams(work, IdentityRegistrar(client), clock)
    invitations = Invitations(work, NotifyMailer(client), public_url, clock)
    csrf = csrf_tokens(agency["client_secret"])
    web = ConsoleWeb(sign_in, teams, csrf, public_url, acting)
    web.agencies = IdentityAgencies(client)
    web.limiter = rate_limit.connect(platform.redis_url, "gaap:console")
    app = create_app(web, invitations, platform.issuer + "/logout")
    listener_tls = tls.server_tls(platform)
    server = HttpServer(
        app(lambda: True),
        sock,
        listener_tls.uvicorn_options() if listener_tls else None,
        trusted_proxies=platform.proxies,
    )
    metrics = HttpServer(metrics_app(), metrics_sock)
    server.start()
    metrics.start()
    log.info("serving", extra={"http": public_url, "service": "console"})
    return RunningConsole(server, metrics, client, web, public_url, engine, acting)
