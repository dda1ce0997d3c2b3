"""The demo app's settings (prefix ``DEMO_APP_``): every default works under ``make run``."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.runtime.config import PlatformSettings, _check_address


class DemoAppSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DEMO_APP_", frozen=True, extra="ignore")
    default_metrics_port: ClassVar[int] = 9180

    http_address: str = Field("127.0.0.1:8080", description="HTTP listen address, HOST:PORT.")
    metrics_address: str = Field(
        "",
        description="Prometheus `/metrics` listen address, HOST:PORT "
        "(port 0 when the HTTP port is 0).",
    )
    public_url: str = Field(
        "",
        description="The app's public base URL (default: `http://<http_address>`); "
        "its `/callback` must be a registered redirect URI.",
    )
    database_url: str = Field(
        "", description="SQLAlchemy URL; default SQLite at `<var_dir>/demo_app.db`."
    )
    agency_file: str = Field(
        "", description="The agency's credentials (default: `<var_dir>/demo/agency.json`)."
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
    fee: int = Field(4000, ge=1, description="The permit's fee in pence.")
    mail_dir: str = Field("", description="The SMTP sink's folder (default `<var_dir>/mail`).")
    sms_dir: str = Field("", description="The SMS sink's folder (default `<var_dir>/sms`).")

    @field_validator("http_address", "metrics_address")
    @classmethod
    def _address(cls, value: str) -> str:
        return _check_address(value) if value else value

    def model_post_init(self, context: Any, /) -> None:
        if not self.metrics_address:
            ephemeral = self.http_address.rpartition(":")[2] == "0"
            port = 0 if ephemeral else self.default_metrics_port
            object.__setattr__(self, "metrics_address", f"127.0.0.1:{port}")

    def resolved_public_url(self) -> str:
        return (self.public_url or f"http://{self.http_address}").rstrip("/")

    def resolved_database_url(self, platform: PlatformSettings) -> str:
        return self.database_url or f"sqlite:///{platform.var_dir / 'demo_app.db'}"

    def resolved_agency_file(self, platform: PlatformSettings) -> Path:
        return Path(self.agency_file) if self.agency_file else platform.var_dir / "demo/agency.json"

    def resolved_mail_dir(self, platform: PlatformSettings) -> Path:
        return Path(self.mail_dir) if self.mail_dir else platform.var_dir / "mail"

    def resolved_sms_dir(self, platform: PlatformSettings) -> Path:
        return Path(self.sms_dir) if self.sms_dir else platform.var_dir / "sms"
