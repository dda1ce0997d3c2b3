"""identity's own settings (prefix ``IDENTITY_``)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.runtime.config import DatabaseSettings


class IdentitySettings(DatabaseSettings):
    model_config = SettingsConfigDict(env_prefix="IDENTITY_", frozen=True, extra="ignore")
    service: ClassVar[str] = "identity"
    default_grpc_port: ClassVar[int] = 50051
    default_http_port: ClassVar[int] = 8081

    access_token_ttl_seconds: int = Field(
        300,
        ge=30,
        le=3600,
        description="Lifetime of access tokens (a disabled agency's lapse within it).",
    )
    signing_alg: str = Field(
        "ES256", pattern="^(ES256|PS256|RS256)$", description="Algorithm of new signing keys."
    )
