"""Building blocks of every service's composition root.

A service's ``bootstrap.build`` reads its settings, opens and migrates its
database, makes its token verifier and hands its servicers and routes to
``assemble``; nothing here runs at import time.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker
from starlette.routing import BaseRoute
from starlette.types import ASGIApp

from services.runtime import db, dpop, tls, tracing
from services.runtime.access_tokens import AccessTokenVerifier, audience_for
from services.runtime.caller import caller_service
from services.runtime.config import DatabaseSettings, PlatformSettings, ServerSettings
from services.runtime.direct_sql import DirectSql
from services.runtime.dpop import DpopBinding, DpopVerifier
from services.runtime.dpop_nonce import DpopNonces
from services.runtime.grpc_server import GrpcService
from services.runtime.interceptors import Access, standard_interceptors
from services.runtime.json_gateway import json_routes
from services.runtime.keys import JwksFetcher, KeyCache, http_fetcher
from services.runtime.periodic import PeriodicJob
from services.runtime.process import ServiceSpec


@dataclass
class Database:
    engine: Engine
    sessions: sessionmaker[Session]
    # Hot single statements on PostgreSQL (``direct.enabled`` is False elsewhere).
    direct: DirectSql

    def close(self) -> None:
        self.direct.close()
        self.engine.dispose()


def open_database(
    platform: PlatformSettings, server: DatabaseSettings, migrations: Path
) -> Database:
    """Connect to the service's database and bring its schema up to date."""
    engine = db.create_engine(server.resolved_database_url(platform))
    db.migrate(engine, migrations)
    return Database(engine, db.session_factory(engine), DirectSql(engine))


def token_verifier(
    service: str,
    platform: PlatformSettings,
    fetch: JwksFetcher | None = None,
    clock: Callable[[], float] = time.time,
) -> AccessTokenVerifier:
    """Verifies identity's access tokens for ``service``; keys from identity's JWKS
    over HTTP unless ``fetch`` supplies them (identity reads its own store).
    ``clock``: identity's own, which its tokens' times come from."""
    keys = KeyCache(
        fetch or http_fetcher(platform.resolved_jwks_url, verify=tls.client_context(platform))
    )
    return AccessTokenVerifier(
        issuer=platform.issuer, audience=audience_for(service), keys=keys, clock=clock
    )


@dataclass
class Parts:
    """What a service contributes; ``assemble`` adds what all services share."""

    grpc_services: Sequence[GrpcService]
    policy: Mapping[str, Access]
    http_app: Callable[[Callable[[], bool]], ASGIApp]
    database: Database
    jobs: Sequence[PeriodicJob] = ()
    on_stop: list[Callable[[], None]] = field(default_factory=list)
    # The service's public base URL: DPoP proofs name it (``htu``) with the method
    # path. Without it, DPoP-bound tokens are refused.
    public_url: str = ""
    # With a secret (shared by the replicas), bound tokens' proofs must carry a
    # server nonce (RFC 9449 §9; ``services.runtime.dpop_nonce``).
    dpop_nonce_secret: bytes = b""


def assemble(
    name: str,
    platform: PlatformSettings,
    server: ServerSettings,
    verifier: AccessTokenVerifier,
    parts: Parts,
) -> ServiceSpec:
    logging.getLogger().setLevel(platform.log_level)
    tracer = tracing.configure(name, platform)
    stop_tracing = [
        tracing.trace_database(parts.database.engine, parts.database.direct, tracer),
        tracing.trace_outbound_http(tracer),
        *([tracer.shutdown] if tracer else []),
    ]
    caller, caller_policy = caller_service(name)
    services = [*parts.grpc_services, caller]
    policy = {**parts.policy, **caller_policy}
    return ServiceSpec(
        name=name,
        grpc_address=server.grpc_address,
        http_address=server.http_address,
        grpc_services=services,
        interceptors=[
            *tracing.server_interceptors(tracer),
            *standard_interceptors(
                name, verifier, policy, _dpop(name, platform, parts), _nonces(parts)
            ),
        ],
        http_app=tracing.traced_http_app(parts.http_app, tracer),
        max_workers=platform.grpc_max_workers,
        jobs=parts.jobs,
        # Tracing stops after the service's own parts (its database) have closed.
        on_stop=[*parts.on_stop, *stop_tracing],
        tls=tls.server_tls(platform),
        json_api=_json_api(name, platform, services),
        metrics_address=server.metrics_address,
        trusted_proxies=platform.proxies,
    )


def _dpop(name: str, platform: PlatformSettings, parts: Parts) -> DpopBinding | None:
    """Proofs' ``jti`` seen in memory, then in Redis (shared by replicas) if configured."""
    if not parts.public_url:
        return None
    replays = dpop.connect_replays(platform.redis_url, f"gaap:{name}:dpop")
    return DpopBinding(DpopVerifier(replays=replays), parts.public_url)


def _nonces(parts: Parts) -> DpopNonces | None:
    return DpopNonces(parts.dpop_nonce_secret) if parts.dpop_nonce_secret else None


def _json_api(
    name: str, platform: PlatformSettings, services: Sequence[GrpcService]
) -> Callable[[Callable[[], str]], list[BaseRoute]]:
    """The service's gRPC methods as JSON over HTTP, through its own gRPC server."""
    credentials, options = tls.loopback(platform)

    def routes(target: Callable[[], str]) -> list[BaseRoute]:
        return json_routes(
            target, services, title=f"GaaP {name}", credentials=credentials, options=options
        )

    return routes
