"""The three services started in this process on ephemeral ports, as the
integration tests use them, plus helpers to onboard agencies and get tokens."""

from __future__ import annotations

import json
import socket
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import grpc
import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from services.identity import bootstrap as identity_bootstrap
from services.identity.bootstrap import Identity, open_identity
from services.identity.settings import IdentitySettings
from services.notify import bootstrap as notify_bootstrap
from services.notify.settings import NotifySettings
from services.payments import bootstrap as payments_bootstrap
from services.payments.settings import PaymentsSettings
from services.runtime import process
from services.runtime.config import PlatformSettings, ServerSettings
from services.runtime.egress import LOOPBACK
from services.runtime.process import RunningService
from tests.support.clock import SteppingClock
from tests.support.databases import for_service

ISSUER = "https://identity.gaap.test"
TOKEN_ENDPOINT = ISSUER + "/oauth2/token"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ALL_AGENCY_SCOPES = (
    "payments:create",
    "payments:read",
    "payments:refund",
    "notify:send",
    "notify:templates",
    "notify:read",
)


@dataclass
class SecretAgency:
    client_id: str
    client_secret: str


@dataclass
class KeyAgency:
    client_id: str
    private_key: Any
    kid: str
    alg: str = "ES256"

    def assertion(self, audience: str = TOKEN_ENDPOINT, **overrides: Any) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.client_id,
            "sub": self.client_id,
            "aud": audience,
            "iat": now,
            "exp": now + 60,
            "jti": uuid.uuid4().hex,
        }
        claims.update(overrides)
        claims = {k: v for k, v in claims.items() if v is not None}
        return jwt.encode(claims, self.private_key, algorithm=self.alg, headers={"kid": self.kid})


@dataclass
class Platform:
    settings: PlatformSettings
    identity_settings: IdentitySettings
    identity: RunningService
    payments: RunningService
    notify: RunningService
    admin: Identity
    # identity's clock: a test moves it forward instead of sleeping.
    clock: SteppingClock = field(default_factory=SteppingClock)
    _channels: dict[str, grpc.Channel] = field(default_factory=dict)

    @property
    def token_url(self) -> str:
        return self.identity.http_url + "/oauth2/token"

    def service(self, name: str) -> RunningService:
        running: RunningService = getattr(self, name)
        return running

    def channel(self, name: str) -> grpc.Channel:
        if name not in self._channels:
            self._channels[name] = grpc.insecure_channel(self.service(name).grpc_target)
        return self._channels[name]

    def secret_agency(
        self, scopes: Sequence[str] = ALL_AGENCY_SCOPES, mode: str = "test"
    ) -> SecretAgency:
        created = self.admin.registry.create(
            name=f"Agency {uuid.uuid4().hex[:6]}", scopes=list(scopes), mode=mode
        )
        assert created.client_secret
        return SecretAgency(created.agency.client_id, created.client_secret)

    def key_agency(self, scopes: Sequence[str] = ALL_AGENCY_SCOPES) -> KeyAgency:
        private = ec.generate_private_key(ec.SECP256R1())
        kid = uuid.uuid4().hex[:8]
        public = ECAlgorithm.to_jwk(private.public_key(), as_dict=True)
        public.update({"kid": kid, "alg": "ES256", "use": "sig"})
        created = self.admin.registry.create(
            name="Key agency", scopes=list(scopes), jwks={"keys": [public]}
        )
        return KeyAgency(created.agency.client_id, private, kid)

    def token(self, agency: SecretAgency, scope: str | None = None) -> str:
        data = {"grant_type": "client_credentials"}
        if scope is not None:
            data["scope"] = scope
        response = httpx.post(
            self.token_url, data=data, auth=(agency.client_id, agency.client_secret)
        )
        assert response.status_code == 200, response.text
        token: str = response.json()["access_token"]
        return token

    def close(self) -> None:
        for channel in self._channels.values():
            channel.close()
        for running in (self.notify, self.payments, self.identity):
            running.stop(grace=1)
        self.admin.database.close()


def settings_for(
    var_dir: Path, jwks_url: str = "", issuer: str = ISSUER, private_targets: str = LOOPBACK
) -> PlatformSettings:
    """``private_targets``: GAAP_ALLOW_PRIVATE_TARGETS; tests' webhook, callback
    and logout receivers listen on 127.0.0.1."""
    return PlatformSettings(
        issuer=issuer,
        var_dir=var_dir,
        jwks_url=jwks_url,
        log_level="INFO",
        allow_private_targets=private_targets,
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


LOCAL = "127.0.0.1:0"
S = TypeVar("S", bound=ServerSettings)


def server_settings(cls: type[S], database_url: str, **extra: Any) -> S:
    """Ephemeral ports, and the service's own database when it keeps one."""
    values: dict[str, Any] = {
        "grpc_address": LOCAL,
        "http_address": LOCAL,
        "metrics_address": LOCAL,
        **extra,
    }
    if "database_url" in cls.model_fields:
        values["database_url"] = for_service(database_url, cls.service)
    return cls(**values)


@contextmanager
def running_platform(
    database_url: str,
    var_dir: Path,
    *,
    real_issuer: bool = False,
    trusted_proxies: str = "",
    **identity: Any,
) -> Iterator[Platform]:
    """identity on ``database_url``; payments and notify verifying its tokens.

    With ``real_issuer`` the issuer is identity's own URL (as in production), for
    clients that fetch discovery from the issuer; otherwise a fixed test name.
    ``trusted_proxies``: GAAP_TRUSTED_PROXIES of all three.
    """
    proxies = {"trusted_proxies": trusted_proxies}
    http = LOCAL
    issuer = ISSUER
    if real_issuer:
        port = free_port()
        http, issuer = f"127.0.0.1:{port}", f"http://127.0.0.1:{port}"
    base = settings_for(var_dir, issuer=issuer).model_copy(update=proxies)
    identity_settings = IdentitySettings(
        database_url=database_url,
        grpc_address=LOCAL,
        http_address=http,
        metrics_address=LOCAL,
        **identity,
    )
    clock = SteppingClock()
    identity_service = process.start(identity_bootstrap.build(base, identity_settings, clock))
    settings = settings_for(
        var_dir, jwks_url=identity_service.http_url + "/.well-known/jwks.json", issuer=issuer
    ).model_copy(update=proxies)

    payments = process.start(
        payments_bootstrap.build(settings, server_settings(PaymentsSettings, database_url))
    )
    notify = process.start(
        notify_bootstrap.build(settings, server_settings(NotifySettings, database_url))
    )
    platform = Platform(
        settings,
        identity_settings,
        identity_service,
        payments,
        notify,
        open_identity(settings, identity_settings, clock),
        clock,
    )
    try:
        yield platform
    finally:
        platform.close()


def bearer(token: str) -> tuple[tuple[str, str], ...]:
    """Call metadata carrying an access token."""
    return (("authorization", f"Bearer {token}"),)


def jwks_of(platform: Platform) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(
        httpx.get(platform.identity.http_url + "/.well-known/jwks.json").text
    )
    return document
