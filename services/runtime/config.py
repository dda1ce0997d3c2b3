"""Typed configuration read from environment variables.

Every setting has a default that makes ``make run`` work with no configuration.
``PlatformSettings`` holds what all processes share (prefix ``GAAP_``);
``ServerSettings`` is subclassed per service with its own prefix
(``IDENTITY_``, ``PAYMENTS_``, ``NOTIFY_``). The README's configuration table is
generated from these classes (``python -m services.runtime.config``) and a test
keeps the two in step.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.runtime.client_address import TrustedProxies
from services.runtime.egress import Egress, parse_networks
from services.runtime.errors import StartupError

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]


def _check_address(value: str) -> str:
    host, sep, port = value.rpartition(":")
    if (
        not sep
        or not host
        or not (port.isascii() and port.isdigit())
        or not 0 <= int(port) <= 65535
    ):
        raise ValueError(f"{value!r} is not HOST:PORT")
    return value


def checkout_var_dir() -> Path:
    """Where ``make run`` keeps its data: ``var/`` at the root of the source checkout
    this code runs from, whatever the current folder, so that ``gaap-admin`` run
    from another folder finds the platform's databases. An installed copy (an
    image) has no checkout: ``var`` in the current folder, which images override
    with ``GAAP_VAR_DIR``."""
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "pyproject.toml").is_file() and (checkout / "services" / "runtime").is_dir():
        return checkout / "var"
    return Path("var")


class PlatformSettings(BaseSettings):
    """Settings shared by every GaaP process."""

    model_config = SettingsConfigDict(
        env_prefix="GAAP_", frozen=True, extra="ignore", validate_by_name=True
    )

    issuer: str = Field(
        "http://127.0.0.1:8081",
        description="Identity's public base URL: the `iss` of every token.",
    )
    jwks_url: str = Field(
        "",
        description="Where payments and notify fetch identity's keys "
        "(default: `<issuer>/.well-known/jwks.json`).",
    )
    var_dir: Path = Field(
        default_factory=checkout_var_dir,
        description="Local state: SQLite files, demo credentials. The default is the "
        "checkout's own `var/`, from whatever folder a command runs; a relative value is "
        "taken from the current folder.",
        json_schema_extra={"shown_default": "var"},
    )
    log_level: LogLevel = Field("INFO", description="Log level of the JSON logs on stderr.")
    shutdown_grace_seconds: float = Field(
        10.0, ge=0, description="How long in-flight calls may run after SIGTERM."
    )
    redis_url: str = Field(
        "",
        validation_alias="REDIS_URL",
        description="Redis for rate limits shared across replicas; empty: limits per process.",
    )
    grpc_max_workers: int = Field(
        8, ge=1, le=1024, description="Threads serving gRPC calls in each process."
    )
    tls_cert_file: str = Field(
        "",
        description="PEM certificate chain of this process: with `GAAP_TLS_KEY_FILE`, every gRPC "
        "and HTTP listener speaks TLS only, and outbound calls present it when asked.",
    )
    tls_key_file: str = Field("", description="PEM private key of `GAAP_TLS_CERT_FILE`.")
    tls_client_ca_file: str = Field(
        "",
        description="PEM CA bundle: when set, listeners require client certificates it "
        "signed (mutual TLS between services).",
    )
    tls_ca_file: str = Field(
        "",
        description="PEM CA bundle trusted for outbound calls (identity's JWKS, notify); "
        "empty: the system's trust store.",
    )
    otel_endpoint: str = Field(
        "",
        description="OTLP gRPC endpoint (`http://collector:4317`) for OpenTelemetry traces; "
        "empty: tracing off.",
    )
    allow_private_targets: str = Field(
        "",
        description="Comma-separated CIDRs that webhooks, status callbacks, back-channel logout "
        "URIs and SMS providers may reach although not public (loopback, private, link-local "
        "...); empty: public addresses only. `make run` sets `127.0.0.0/8,::1/128`.",
    )
    trusted_proxies: str = Field(
        "",
        description="Comma-separated CIDRs of the proxies in front of the HTTP listeners (the "
        "ingress controller's pods): only from these are `X-Forwarded-For` and "
        "`X-Forwarded-Proto` believed; empty: the peer is the client.",
    )

    @field_validator("issuer")
    @classmethod
    def _issuer_is_url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")) or value.endswith("/"):
            raise ValueError("must be an http(s) URL without a trailing slash")
        return value

    @field_validator("allow_private_targets")
    @classmethod
    def _networks(cls, value: str) -> str:
        parse_networks(value)  # raises ValueError naming the bad entry
        return value

    @property
    def egress(self) -> Egress:
        """The guard on outbound requests to addresses agencies or operators chose."""
        return Egress.from_setting(self.allow_private_targets)

    @field_validator("trusted_proxies")
    @classmethod
    def _cidrs(cls, value: str) -> str:
        TrustedProxies.parse(value)  # raises ValueError naming the bad entry
        return value

    @property
    def proxies(self) -> TrustedProxies:
        return TrustedProxies.parse(self.trusted_proxies)

    @property
    def resolved_jwks_url(self) -> str:
        return self.jwks_url or f"{self.issuer}/.well-known/jwks.json"


class ServerSettings(BaseSettings):
    """Where one service listens and keeps its data. Subclasses set the prefix."""

    service: ClassVar[str]
    default_grpc_port: ClassVar[int]
    default_http_port: ClassVar[int]
    default_metrics_port: ClassVar[int]

    grpc_address: str = Field("", description="gRPC listen address, HOST:PORT.")
    http_address: str = Field("", description="HTTP listen address, HOST:PORT.")
    metrics_address: str = Field(
        "",
        description="Prometheus `/metrics` listen address, HOST:PORT: a listener of its own, "
        "never the public HTTP port (port 0 when the HTTP port is 0).",
    )

    @field_validator("grpc_address", "http_address", "metrics_address")
    @classmethod
    def _address(cls, value: str) -> str:
        return _check_address(value) if value else value

    def model_post_init(self, context: Any, /) -> None:
        # Defaults depend on the subclass, so they are filled in after validation.
        if not self.grpc_address:
            object.__setattr__(self, "grpc_address", f"127.0.0.1:{self.default_grpc_port}")
        if not self.http_address:
            object.__setattr__(self, "http_address", f"127.0.0.1:{self.default_http_port}")
        if not self.metrics_address:
            # Test and benchmark instances on ephemeral ports must not collide.
            ephemeral = self.http_address.rpartition(":")[2] == "0"
            port = 0 if ephemeral else self.default_metrics_port
            object.__setattr__(self, "metrics_address", f"127.0.0.1:{port}")


class DatabaseSettings(ServerSettings):
    """A service that keeps data: one database of its own."""

    database_url: str = Field(
        "",
        description="SQLAlchemy URL; default SQLite at `<var_dir>/<service>.db`. "
        "PostgreSQL: `postgresql+psycopg://user@host/db`.",
    )

    def resolved_database_url(self, platform: PlatformSettings) -> str:
        return self.database_url or f"sqlite:///{platform.var_dir / self.service}.db"


S = TypeVar("S", bound=BaseSettings)


def load(cls: type[S]) -> S:
    """Read settings from the environment, turning validation errors into one line."""
    try:
        return cls()
    except (ValidationError, ValueError) as exc:
        raise StartupError(_describe(cls, exc)) from None


def _describe(cls: type[BaseSettings], exc: Exception) -> str:
    if not isinstance(exc, ValidationError):
        return f"configuration error: {exc}"
    prefix = str(cls.model_config.get("env_prefix", ""))
    parts = []
    for err in exc.errors():
        name = ".".join(str(p) for p in err["loc"]) or "settings"
        env = name if name.isupper() else f"{prefix}{name}".upper()
        parts.append(f"{env}: {err['msg']}")
    return "configuration error: " + "; ".join(parts)


def markdown_table(classes: list[type[BaseSettings]]) -> str:
    """The README's configuration table, one row per environment variable."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for cls in classes:
        prefix = str(cls.model_config.get("env_prefix", ""))
        for name, field in cls.model_fields.items():
            env = str(field.validation_alias) if field.validation_alias else f"{prefix}{name}"
            extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
            default = extra.get("shown_default", field.default)
            if name == "grpc_address" and hasattr(cls, "default_grpc_port"):
                default = f"127.0.0.1:{cls.default_grpc_port}"
            if name == "http_address" and hasattr(cls, "default_http_port"):
                default = f"127.0.0.1:{cls.default_http_port}"
            if name == "metrics_address" and hasattr(cls, "default_metrics_port"):
                default = f"127.0.0.1:{cls.default_metrics_port}"
            shown = f"`{default}`" if default not in ("", None) else "(empty)"
            rows.append(f"| `{env.upper()}` | {shown} | {field.description or ''} |")
    return "\n".join(rows)


def all_settings_classes() -> list[type[BaseSettings]]:
    from services.console.settings import ConsoleSettings
    from services.demo_app.settings import DemoAppSettings
    from services.identity.settings import IdentitySettings
    from services.notify.settings import NotifySettings
    from services.payments.settings import PaymentsSettings

    return [
        PlatformSettings,
        IdentitySettings,
        PaymentsSettings,
        NotifySettings,
        DemoAppSettings,
        ConsoleSettings,
    ]


if __name__ == "__main__":  # pragma: no cover - documentation helper
    sys.stdout.write(markdown_table(all_settings_classes()) + "\n")
