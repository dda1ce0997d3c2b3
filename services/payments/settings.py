"""payments' own settings (prefix ``PAYMENTS_``)."""

from __future__ import annotations

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from services.runtime.config import ServerSettings


class PaymentsSettings(ServerSettings):
    model_config = SettingsConfigDict(env_prefix="PAYMENTS_", frozen=True, extra="ignore")
    service: ClassVar[str] = "payments"
    default_grpc_port: ClassVar[int] = 50052
    default_http_port: ClassVar[int] = 8082
