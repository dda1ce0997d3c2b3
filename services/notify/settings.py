"""notify's own settings (prefix ``NOTIFY_``)."""

from __future__ import annotations

import json
from typing import ClassVar

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from services.runtime import urls
from services.runtime.config import DatabaseSettings


class NotifySettings(DatabaseSettings):
    model_config = SettingsConfigDict(env_prefix="NOTIFY_", frozen=True, extra="ignore")
    service: ClassVar[str] = "notify"
    default_grpc_port: ClassVar[int] = 50053
    default_http_port: ClassVar[int] = 8083
    default_metrics_port: ClassVar[int] = 9183

    key_encryption_key: str = Field(
        "",
        description="Base64 of 32 random bytes: seals status callbacks' signing secrets at rest "
        "(AES-256-GCM); once set, it is needed to start.",
    )
    public_url: str = Field(
        "http://127.0.0.1:8083",
        description=(
            "notify's public HTTP base URL, given to SMS providers for delivery receipts; "
            "DPoP proofs name it (`htu`) before the method path."
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
    smtp_host: str = Field("127.0.0.1", description="SMTP server the worker sends email through.")
    smtp_port: int = Field(
        8025, ge=1, le=65535, description="Its port (the local sink's by default)."
    )
    smtp_username: str = Field("", description="SMTP user name; empty: no authentication.")
    smtp_password: str = Field("", description="SMTP password.")
    smtp_starttls: bool = Field(False, description="Upgrade SMTP connections with STARTTLS.")
    smtp_connections: int = Field(
        8, ge=1, le=256, description="SMTP connections each worker keeps open."
    )
    email_from: str = Field(
        "GaaP Notify <notify@gaap.localhost>", description="The From header of every email."
    )
    sms_providers: str = Field(
        '[{"name": "local-a", "url": "http://127.0.0.1:8090/messages", "key": "local-sms-key", '
        '"weight": 70}, {"name": "local-b", "url": "http://127.0.0.1:8090/messages", '
        '"key": "local-sms-key", "weight": 30}]',
        description="SMS-over-HTTP providers as JSON: name, url, key (bearer token, and the "
        "password of their delivery receipts), weight.",
    )
    sms_sender: str = Field("GaaP", description="The sender id shown on text messages.")
    rate_per_minute: int = Field(
        3000, ge=1, description="Sends per minute per agency (token bucket)."
    )
    rate_burst: int = Field(1000, ge=1, description="Sends an agency may make in a burst.")
    email_daily_limit: int = Field(250_000, ge=1, description="Emails per agency per UTC day.")
    sms_daily_limit: int = Field(250_000, ge=1, description="Text messages per agency per UTC day.")
    sms_default_region: str = Field(
        "GB", description="Default region for phone numbers, until an agency sets its own."
    )
    retention_days: int = Field(
        7, ge=1, le=3650, description="Days before recipients and content are purged."
    )
    retry_period_seconds: int = Field(
        4 * 3600, ge=1, description="How long retryable provider errors are retried."
    )
    deliver_test_mode: bool = Field(
        False,
        description="Hand test-mode agencies' notifications to the providers too; only for "
        "local sinks (`make run` sets it for its worker).",
    )
    worker_batch: int = Field(
        200, ge=1, le=5000, description="Notifications a worker claims at once."
    )
    worker_concurrency: int = Field(32, ge=1, le=1024, description="Sends a worker has in flight.")
    worker_lease_seconds: int = Field(
        120, ge=1, description="How long a claim lasts before another worker may retry it."
    )
    worker_poll_seconds: float = Field(
        0.5, gt=0, le=60, description="Pause of an idle worker between looks at the queue."
    )

    @field_validator("sms_providers")
    @classmethod
    def _providers(cls, value: str) -> str:
        parsed = json.loads(value)
        if not isinstance(parsed, list) or not parsed:
            raise ValueError("a JSON list of providers")
        for p in parsed:
            if not {"name", "url", "key"} <= set(p) or float(p.get("weight", 1)) <= 0:
                raise ValueError("each provider needs name, url, key and a positive weight")
            # The platform's URL rules; where it may connect is checked when it does.
            problem = urls.problem(str(p["url"]), http="any")
            if problem:
                raise ValueError(f"provider {p['name']!r}: url {problem}")
        return value

    def sms_provider_list(self) -> list[dict[str, str | float]]:
        providers: list[dict[str, str | float]] = json.loads(self.sms_providers)
        return providers
