"""identity's composition root."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from services.identity.adapters.repositories import SqlAssertionLedger
from services.identity.api.grpc import POLICY, identity_service
from services.identity.service_layer.agencies import AgencyRegistry
from services.identity.service_layer.keys import KeyStore
from services.identity.service_layer.tokens import AccessTokenIssuer
from services.identity.settings import IdentitySettings
from services.identity.web.app import TOKEN_PATH, create_app
from services.identity.web.oauth_server import TokenServer
from services.runtime import bootstrap
from services.runtime.config import PlatformSettings
from services.runtime.db import transaction
from services.runtime.db_types import utcnow
from services.runtime.periodic import PeriodicJob
from services.runtime.process import ServiceSpec

MIGRATIONS = Path(__file__).parent / "migrations"


@dataclass
class Identity:
    """identity's parts, for the CLI and tests as much as for ``main``."""

    database: bootstrap.Database
    registry: AgencyRegistry
    keys: KeyStore

    def purge_used_assertions(self) -> int:
        """Forget client-assertion ids whose assertions have expired (a replay
        of those is refused by their own ``exp``)."""
        with transaction(self.database.sessions) as session:
            return SqlAssertionLedger(session).purge(utcnow())


def open_identity(platform: PlatformSettings, settings: IdentitySettings) -> Identity:
    database = bootstrap.open_database(platform, settings, MIGRATIONS)
    keys = KeyStore(database.sessions, alg=settings.signing_alg)
    keys.ensure_signing_key()
    return Identity(database, AgencyRegistry(database.sessions), keys)


def build(platform: PlatformSettings, settings: IdentitySettings) -> ServiceSpec:
    identity = open_identity(platform, settings)
    tokens = AccessTokenIssuer(
        identity.keys, issuer=platform.issuer, ttl_seconds=settings.access_token_ttl_seconds
    )
    token_server = TokenServer(
        registry=identity.registry,
        tokens=tokens,
        sessions=identity.database.sessions,
        issuer=platform.issuer,
        token_endpoint=platform.issuer + TOKEN_PATH,
    )
    # identity verifies tokens for its own API from its own key store, not over HTTP.
    verifier = bootstrap.token_verifier("identity", platform, fetch=identity.keys.jwks)
    return bootstrap.assemble(
        "identity",
        platform,
        settings,
        verifier,
        bootstrap.Parts(
            grpc_services=[identity_service(identity.registry, identity.keys)],
            policy=POLICY,
            http_app=create_app(
                issuer=platform.issuer, token_server=token_server, keys=identity.keys
            ),
            jobs=[PeriodicJob("purge-used-assertions", 600, identity.purge_used_assertions)],
            on_stop=[identity.database.close],
        ),
    )
