"""payments' own settings (prefix ``PAYMENTS_``)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from services.runtime.config import DatabaseSettings


class PaymentsSettings(DatabaseSettings):
    model_config = SettingsConfigDict(env_prefix="PAYMENTS_", frozen=True, extra="ignore")
    service: ClassVar[str] = "payments"
    default_grpc_port: ClassVar[int] = 50052
    default_http_port: ClassVar[int] = 8082
    default_metrics_port: ClassVar[int] = 9182

    public_url: str = Field(
        "http://127.0.0.1:8082",
        description=(
            "Public base URL of the payment pages; `next_url` starts with it, and DPoP "
            "proofs name it (`htu`) before the method path."
        ),
    )
    dpop_nonces: bool = Field(
        False,
        description="DPoP-bound tokens' proofs must carry a server nonce (RFC 9449 §9): a "
        "proof without the current one is UNAUTHENTICATED with the nonce in trailing "
        "metadata `dpop-nonce` (over HTTP, 401, `WWW-Authenticate: DPoP "
        'error="use_dpop_nonce"` and a `DPoP-Nonce` header). Stateless: an HMAC of a '
        "5-minute window under a secret the replicas share through the database.",
    )
    max_amount: int = Field(
        10_000_000, ge=1, description="Largest amount a payment may have, in minor units."
    )
    stripe_api_key: str = Field(
        "",
        description="Stripe secret key; when set, `live` agencies pay through Stripe "
        "(test agencies always use the sandbox).",
    )
    stripe_api_base: str = Field(
        "", description="Stripe API base URL override (tests point it at a local server)."
    )
    key_encryption_key: str = Field(
        "",
        description="Base64 of 32 random bytes: seals webhook signing secrets and the "
        "page-link and CSRF keys at rest (AES-256-GCM). Required with a live Stripe key; once "
        "set, it is needed to start.",
    )
    stripe_webhook_secrets: str = Field(
        "",
        description="Comma-separated Stripe webhook signing secrets accepted at "
        "`/webhooks/stripe` (several during rotation).",
    )
    create_rate_per_second: float = Field(
        15.0, gt=0, description="Mutating calls per second per agency (burst the same)."
    )
    read_rate_per_second: float = Field(
        100.0, gt=0, description="Read calls per second per agency (burst the same)."
    )
    sweep_interval_seconds: float = Field(
        60.0, gt=0, description="How often expired pages and lapsed authorisations are swept."
    )
    webhook_interval_seconds: float = Field(
        2.0, gt=0, description="How often due agency webhooks are sent."
    )

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")) or value.endswith("/"):
            raise ValueError("must be an http(s) URL without a trailing slash")
        return value

    @property
    def webhook_secrets(self) -> list[str]:
        return [s.strip() for s in self.stripe_webhook_secrets.split(",") if s.strip()]
