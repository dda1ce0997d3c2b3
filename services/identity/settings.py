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
    default_metrics_port: ClassVar[int] = 9181

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
        6,
        ge=3,
        le=20,
        description="Wrong passwords for one email address from one client address, or wrong "
        "second-factor codes for one account, in a row before it locks.",
    )
    lockout_address_attempts: int = Field(
        30,
        ge=3,
        le=1000,
        description="Wrong passwords for one email address from any client address, in a row, "
        "before it locks everywhere (slower than the lock per client address).",
    )
    lockout_minutes: int = Field(
        15,
        ge=1,
        le=1440,
        description="How long a lock lasts. Second-factor locks in a row escalate: each one "
        "after a lock without a completed sign-in lasts twice as long, up to 24 hours.",
    )
    argon2_memory_kib: int = Field(
        19456, ge=19456, description="argon2id memory cost (OWASP minimum: 19456 KiB)."
    )
    argon2_time_cost: int = Field(2, ge=2, description="argon2id iterations (OWASP minimum: 2).")
    argon2_parallelism: int = Field(1, ge=1, le=16, description="argon2id lanes.")
    argon2_memory_budget_mib: int = Field(
        0,
        ge=0,
        description="Memory the argon2id hashes running at once in one process may use; "
        "more sign-ins wait briefly, then get a try-again page (503). 0: a quarter of the "
        "container's memory limit (cgroup memory.max), or 2 hashes per CPU without one.",
    )
    key_encryption_key: str = Field(
        "",
        description="Base64 of 32 random bytes: seals signing keys, TOTP secrets and the CSRF, "
        "code and pairwise keys at rest (AES-256-GCM). Required once an agency is live; once "
        "set, it is needed to start.",
    )
    key_propagation_seconds: int = Field(
        900,
        ge=0,
        le=86400,
        description="After `gaap-admin rotate-keys`, how long the new key is published "
        "before it signs (at least the JWKS cache age of resource servers: 900 s).",
    )

    require_pushed_authorization_requests: bool = Field(
        False,
        description="Every agency must push its authorization requests to `/par` first "
        "(RFC 9126); discovery then says `require_pushed_authorization_requests: true`. "
        "Without it, only agencies registered with `--require-par` must.",
    )
    dpop_nonces: bool = Field(
        False,
        description="DPoP proofs must carry a server nonce (RFC 9449 §8, §9) at the token "
        "endpoint and UserInfo: a proof without the current one is refused `use_dpop_nonce` "
        "with a `DPoP-Nonce` header to retry with. Nonces are stateless (an HMAC of a "
        "5-minute window under identity's instance secret), valid on every replica for the "
        "current and previous window.",
    )

    # -- citizen accounts: messages, codes, throttling -------------------------------------
    messaging: str = Field(
        "smtp",
        pattern="^(smtp|notify)$",
        description="How identity sends citizens' emails and texts: `smtp` (plain SMTP, email "
        "only) or `notify` (through the notify service, as an agency of the platform).",
    )
    smtp_host: str = Field(
        "127.0.0.1", description="SMTP server for `messaging=smtp` (make run's local sink)."
    )
    smtp_port: int = Field(8025, ge=1, le=65535, description="Its port.")
    smtp_username: str = Field("", description="SMTP user name; empty: no authentication.")
    smtp_password: str = Field("", description="SMTP password.")
    smtp_starttls: bool = Field(False, description="Upgrade SMTP connections with STARTTLS.")
    mail_from: str = Field(
        "GaaP <no-reply@identity.gaap.localhost>",
        description="The From address of identity's emails (SMTP).",
    )
    notify_client_id: str = Field(
        "",
        description="identity's own agency client id, for `messaging=notify` (scopes "
        "notify:send and notify:templates).",
    )
    notify_client_secret: str = Field("", description="That agency's client secret.")
    notify_target: str = Field(
        "127.0.0.1:50053", description="notify's gRPC address, for `messaging=notify`."
    )
    code_minutes: int = Field(
        15, ge=1, le=60, description="Lifetime of emailed and texted security codes."
    )
    phone_region: str = Field(
        "GB",
        pattern="^[A-Z]{2}$",
        description="Region (ISO 3166 alpha-2) of mobile numbers citizens type without a "
        "country code.",
    )
    code_attempts: int = Field(
        5, ge=1, le=10, description="Wrong entries before a security code stops working."
    )
    sends_per_address_per_hour: int = Field(
        5,
        ge=1,
        le=1000,
        description="Security codes sent to one address per hour (registration, reset).",
    )
    posts_per_ip_per_hour: int = Field(
        100,
        ge=1,
        le=100000,
        description="Sign-in and account forms accepted from one client address per hour.",
    )
    authorizations_per_ip_per_hour: int = Field(
        300,
        ge=1,
        le=100000,
        description="Sign-ins started (`/authorize`, each kept 30 minutes) from one client "
        "address per hour.",
    )
