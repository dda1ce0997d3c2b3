"""notify's own settings (prefix ``NOTIFY_``)."""

from __future__ import annotations

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from services.runtime.config import ServerSettings


class NotifySettings(ServerSettings):
    model_config = SettingsConfigDict(env_prefix="NOTIFY_", frozen=True, extra="ignore")
    service: ClassVar[str] = "notify"
    default_grpc_port: ClassVar[int] = 50053
    default_http_port: ClassVar[int] = 8083
