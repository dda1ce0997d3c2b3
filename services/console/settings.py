"""The console's settings (prefix ``CONSOLE_``): every default works under ``make run``."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.console.domain.staff import normalise_email
from services.runtime.config import PlatformSettings, _check_address


class ConsoleSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CONSOLE_", frozen=True, extra="ignore")
    default_metrics_port: ClassVar[int] = 9184

    http_address: str = Field("127.0.0.1:8084", description="HTTP listen address, HOST:PORT.")
    metrics_address: str = Field(
        "",
        description="Prometheus `/metrics` listen address, HOST:PORT "
        "(port 0 when the HTTP port is 0).",
    )
    public_url: str = Field(
        "",
        description="The console's public base URL (default: `http://<http_address>`); "
        "its `/callback` must be a redirect URI of the console's agency.",
    )
    database_url: str = Field(
        "", description="SQLAlchemy URL; default SQLite at `<var_dir>/console.db`."
    )
    agency_file: str = Field(
        "",
        description="The console's own agency credentials (default: "
        "`<var_dir>/console/agency.json`, written by `make run`).",
    )
    identity_target: str = Field("127.0.0.1:50051", description="identity's gRPC address.")
    payments_target: str = Field("127.0.0.1:50052", description="payments' gRPC address.")
    notify_target: str = Field("127.0.0.1:50053", description="notify's gRPC address.")
    payments_url: str = Field(
        "http://127.0.0.1:8082",
        description="payments' public base URL (`PAYMENTS_PUBLIC_URL`): DPoP proofs name it.",
    )
    notify_url: str = Field(
        "http://127.0.0.1:8083",
        description="notify's public base URL (`NOTIFY_PUBLIC_URL`): DPoP proofs name it.",
    )
    operator_emails: str = Field(
        "",
        description="Comma-separated verified email addresses of platform operators "
        "(they may read every team's page and audit trail).",
    )

    @field_validator("http_address", "metrics_address")
    @classmethod
    def _address(cls, value: str) -> str:
        return _check_address(value) if value else value

    def model_post_init(self, context: Any, /) -> None:
        if not self.metrics_address:
            port = 0 if self.http_address.endswith(":0") else self.default_metrics_port
            object.__setattr__(self, "metrics_address", f"127.0.0.1:{port}")

    def operators(self) -> frozenset[str]:
        return frozenset(normalise_email(e) for e in self.operator_emails.split(",") if e.strip())

    def resolved_public_url(self) -> str:
        return (self.public_url or f"http://{self.http_address}").rstrip("/")

    def resolved_database_url(self, platform: PlatformSettings) -> str:
        return self.database_url or f"sqlite:///{platform.var_dir / 'console.db'}"

    def resolved_agency_file(self, platform: PlatformSettings) -> Path:
        if self.agency_file:
            return Path(self.agency_file)
        return platform.var_dir / "console" / "agency.json"
