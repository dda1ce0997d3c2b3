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
    refresh_token_days: int = Field(
        30, ge=1, le=365, description="Lifetime of citizens' refresh tokens (offline_access)."
    )
    session_idle_minutes: int = Field(
        30, ge=1, le=1440, description="A citizen's sign-in session ends after this long idle."
    )
    session_max_hours: int = Field(
        12, ge=1, le=168, description="...and after this long in any case."
    )
    lockout_attempts: int = Field(
        6, ge=3, le=20, description="Wrong passwords or codes in a row before an account locks."
    )
    lockout_minutes: int = Field(15, ge=1, le=1440, description="How long a lock lasts.")
    argon2_memory_kib: int = Field(
        19456, ge=19456, description="argon2id memory cost (OWASP minimum: 19456 KiB)."
    )
    argon2_time_cost: int = Field(2, ge=2, description="argon2id iterations (OWASP minimum: 2).")
    argon2_parallelism: int = Field(1, ge=1, le=16, description="argon2id lanes.")
    key_encryption_key: str = Field(
        "",
        description="Base64 of 32 random bytes: seals signing keys and TOTP secrets at rest "
        "(AES-256-GCM). Empty: stored unsealed. Once set, it is needed to start.",
    )
    key_propagation_seconds: int = Field(
        900,
        ge=0,
        le=86400,
        description="After `gaap-admin rotate-keys`, how long the new key is published "
        "before it signs (at least the JWKS cache age of resource servers: 900 s).",
    )
