"""identity's tables. Migrations in ``services/identity/migrations`` create them."""

from __future__ import annotations

import sqlalchemy as sa

from services.runtime import idempotency_sql, webhook_tables
from services.runtime.db import new_metadata
from services.runtime.db_types import UtcDateTime

metadata = new_metadata()

agencies = sa.Table(
    "agencies",
    metadata,
    sa.Column("client_id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("mode", sa.String(8), nullable=False),
    sa.Column("scopes", sa.JSON, nullable=False),
    sa.Column("redirect_uris", sa.JSON, nullable=False),
    sa.Column("auth_methods", sa.JSON, nullable=False),
    sa.Column("secret_hash", sa.String(64)),
    sa.Column("jwks", sa.JSON),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("disabled_at", UtcDateTime),
    # OpenID Connect client metadata (migration 0002)
    sa.Column("subject_type", sa.String(16), nullable=False, server_default="pairwise"),
    sa.Column("sector_identifier", sa.String(255)),
    sa.Column("id_token_alg", sa.String(10), nullable=False, server_default="ES256"),
    sa.Column("post_logout_redirect_uris", sa.JSON),
    sa.Column("backchannel_logout_uri", sa.String(2000)),
    # RFC 9126 §5 (migration 0009)
    sa.Column("require_par", sa.Boolean, nullable=False, server_default=sa.false()),
    # the FAPI 2.0 profile, RFC 9101 and RFC 9449 §5.2 (migration 0010)
    sa.Column("profile", sa.String(16), nullable=False, server_default="standard"),
    sa.Column("require_signed_request", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("dpop_bound", sa.Boolean, nullable=False, server_default=sa.false()),
    # the consent page's name and logo; secret rotation with overlap (migration 0011)
    sa.Column("display_name", sa.String(200)),
    sa.Column("logo_uri", sa.String(2000)),
    sa.Column("secret_created_at", UtcDateTime),
    sa.Column("secret_last_used_at", UtcDateTime),
    sa.Column("previous_secret_hash", sa.String(64)),
    sa.Column("previous_secret_created_at", UtcDateTime),
    sa.Column("previous_secret_expires_at", UtcDateTime),
    sa.Column("previous_secret_last_used_at", UtcDateTime),
)

signing_keys = sa.Table(
    "signing_keys",
    metadata,
    sa.Column("kid", sa.String(64), primary_key=True),
    sa.Column("alg", sa.String(10), nullable=False),
    sa.Column("private_pem", sa.LargeBinary, nullable=False),
    sa.Column("public_jwk", sa.JSON, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("activates_at", UtcDateTime, nullable=False),
    sa.Column("retires_at", UtcDateTime),
    sa.Column("expires_at", UtcDateTime),
    # True when private_pem is sealed with the key-encryption key (migration 0002)
    sa.Column("sealed", sa.Boolean, nullable=False, server_default=sa.false()),
)

# Client-assertion ids seen at the token endpoint, kept until the assertion
# expires: a second use of the same (client, jti) is a replay.
used_assertions = sa.Table(
    "used_assertions",
    metadata,
    sa.Column("client_id", sa.String(64), primary_key=True),
    sa.Column("jti", sa.String(255), primary_key=True),
    sa.Column("expires_at", UtcDateTime, nullable=False, index=True),
)

# -- citizens and their sign-in (OpenID Connect provider) ---------------------------

accounts = sa.Table(
    "accounts",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("email", sa.String(320), nullable=False, unique=True),
    sa.Column("email_verified", sa.Boolean, nullable=False),
    sa.Column("password_hash", sa.String(200), nullable=False),
    # Base32 TOTP secret, sealed with the key-encryption key when one is configured.
    sa.Column("totp_secret", sa.String(400)),
    # The last TOTP time step accepted: a code is never accepted twice.
    sa.Column("totp_last_step", sa.BigInteger),
    sa.Column("given_name", sa.String(200)),
    sa.Column("family_name", sa.String(200)),
    sa.Column("phone_number", sa.String(32)),
    sa.Column("phone_number_verified", sa.Boolean, nullable=False),
    sa.Column("address", sa.JSON),
    sa.Column("locale", sa.String(16)),
    sa.Column("failed_second_factor", sa.Integer, nullable=False),
    # Second-factor locks in a row without a completed sign-in (each lasts longer).
    sa.Column("second_factor_locks", sa.Integer, nullable=False),
    sa.Column("locked_until", UtcDateTime),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

# Server-side sessions. The cookie holds a random value; only its hash is stored.
sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("id_hash", sa.String(64), primary_key=True),
    sa.Column("sid", sa.String(40), nullable=False, unique=True),
    sa.Column("account_id", sa.String(40), nullable=False, index=True),
    sa.Column("auth_time", UtcDateTime, nullable=False),
    sa.Column("acr", sa.String(16), nullable=False),
    sa.Column("amr", sa.JSON, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("last_seen_at", UtcDateTime, nullable=False),
    sa.Column("ended_at", UtcDateTime),
)

# An authorization request in progress (between /authorize and the redirect back).
pending_authorizations = sa.Table(
    "pending_authorizations",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("client_id", sa.String(64), nullable=False),
    sa.Column("params", sa.JSON, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=False, index=True),
)

# Pushed authorization requests (RFC 9126), keyed by the SHA-256 of their
# request_uri: a copy of the table gives nobody a usable request_uri.
pushed_authorization_requests = sa.Table(
    "pushed_authorization_requests",
    metadata,
    sa.Column("uri_hash", sa.String(64), primary_key=True),
    sa.Column("client_id", sa.String(64), nullable=False),
    sa.Column("request", sa.JSON, nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=False, index=True),
)

authorization_codes = sa.Table(
    "authorization_codes",
    metadata,
    sa.Column("code_hash", sa.String(64), primary_key=True),
    sa.Column("client_id", sa.String(64), nullable=False),
    sa.Column("account_id", sa.String(40), nullable=False),
    sa.Column("sid", sa.String(40), nullable=False),
    sa.Column("redirect_uri", sa.String(2000), nullable=False),
    sa.Column("scope", sa.String(1000), nullable=False),
    sa.Column("nonce", sa.String(500)),
    sa.Column("code_challenge", sa.String(128), nullable=False),
    sa.Column("claims", sa.JSON),
    sa.Column("acr", sa.String(16), nullable=False),
    sa.Column("amr", sa.JSON, nullable=False),
    sa.Column("auth_time", UtcDateTime, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=False),
    sa.Column("used_at", UtcDateTime),
    sa.Column("dpop_jkt", sa.String(64)),  # RFC 9449 §10 (migration 0010)
)

# Every token issued to a citizen's session: what revocation, introspection,
# refresh rotation, code-reuse and logout act on.
user_tokens = sa.Table(
    "user_tokens",
    metadata,
    # the jti of an access token, or the hash of a refresh token
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),  # access | refresh
    sa.Column("client_id", sa.String(64), nullable=False),
    sa.Column("account_id", sa.String(40), nullable=False, index=True),
    sa.Column("sid", sa.String(40), nullable=False, index=True),
    sa.Column("code_hash", sa.String(64), index=True),
    sa.Column("family", sa.String(40), index=True),
    sa.Column("scope", sa.String(1000), nullable=False),
    sa.Column("claims", sa.JSON),
    sa.Column("acr", sa.String(16), nullable=False),
    sa.Column("amr", sa.JSON, nullable=False),
    sa.Column("auth_time", UtcDateTime, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=False),
    sa.Column("used_at", UtcDateTime),  # a rotated refresh token
    sa.Column("revoked_at", UtcDateTime),
    sa.Column("dpop_jkt", sa.String(64)),  # the DPoP key it is bound to (migration 0010)
)

consents = sa.Table(
    "consents",
    metadata,
    sa.Column("account_id", sa.String(40), primary_key=True),
    sa.Column("client_id", sa.String(64), primary_key=True),
    sa.Column("scopes", sa.JSON, nullable=False),
    # Personal claims agreed one by one (asked through the claims parameter),
    # beyond those the consented scopes cover.
    sa.Column("claims", sa.JSON, nullable=False, server_default=sa.text("'[]'")),
    sa.Column("granted_at", UtcDateTime, nullable=False),
    sa.Column("last_used_at", UtcDateTime, nullable=False),
)

audit_events = sa.Table(
    "audit_events",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("at", UtcDateTime, nullable=False, index=True),
    sa.Column("type", sa.String(64), nullable=False, index=True),
    sa.Column("account_id", sa.String(40), index=True),
    sa.Column("client_id", sa.String(64), index=True),
    sa.Column("ip", sa.String(64)),
    sa.Column("details", sa.JSON, nullable=False),
)

# Random values identity makes once and keeps: the pairwise-subject salt, the key
# that signs CSRF tokens. Stored, not configured, so every replica agrees.
instance_secrets = sa.Table(
    "instance_secrets",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("value", sa.String(200), nullable=False),
)

# Idempotency keys of operators' mutating gRPC calls (migration 0003).
idempotency_keys = idempotency_sql.define_table(metadata)

# -- citizen accounts: registration, recovery, devices, throttling (migration 0004) --------

# A one-time code sent by email or SMS, and the browser it was sent for. Only a
# keyed hash of the code is kept. A pending registration also holds the chosen
# password's argon2id hash until the address is proved.
verification_tickets = sa.Table(
    "verification_tickets",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("purpose", sa.String(16), nullable=False),
    sa.Column("email", sa.String(320), nullable=False),
    sa.Column("account_id", sa.String(40), index=True),
    sa.Column("browser_hash", sa.String(64), nullable=False),
    sa.Column("code_hash", sa.String(64), nullable=False),
    sa.Column("password_hash", sa.String(200)),
    sa.Column("phone_number", sa.String(32)),
    sa.Column("language", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=False, index=True),
    sa.Column("verified_at", UtcDateTime),
    sa.Column("used_at", UtcDateTime),
)

recovery_codes = sa.Table(
    "recovery_codes",
    metadata,
    sa.Column("account_id", sa.String(40), primary_key=True),
    sa.Column("code_hash", sa.String(64), primary_key=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("used_at", UtcDateTime),
)

# Browsers a citizen has signed in from (a long-lived cookie; only its hash is
# kept): a sign-in from anywhere else sends an alert.
known_devices = sa.Table(
    "known_devices",
    metadata,
    sa.Column("account_id", sa.String(40), primary_key=True),
    sa.Column("device_hash", sa.String(64), primary_key=True),
    sa.Column("first_seen_at", UtcDateTime, nullable=False),
    sa.Column("last_seen_at", UtcDateTime, nullable=False),
)

# Fixed-window counters for throttling, shared by every replica.
throttle_counters = sa.Table(
    "throttle_counters",
    metadata,
    sa.Column("key", sa.String(120), primary_key=True),
    sa.Column("window_start", UtcDateTime, primary_key=True),
    sa.Column("count", sa.Integer, nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=False, index=True),
)

# Wrong passwords in a row, per email address and per (email, client address),
# for addresses with and without an account alike (domain.lockout). Keys and
# ``address`` are hashes of the normalised email address.
signin_failures = sa.Table(
    "signin_failures",
    metadata,
    sa.Column("key", sa.String(80), primary_key=True),
    sa.Column("address", sa.String(64), nullable=False, index=True),
    sa.Column("failures", sa.Integer, nullable=False),
    sa.Column("locked_until", UtcDateTime),
    sa.Column("expires_at", UtcDateTime, nullable=False, index=True),
)

# -- back-channel logout outbox (migration 0005) -------------------------------------------

# One row per logout token owed to an agency, written in the transaction that ends
# the session; the shared outbox delivers it with retries. ``event_id`` is the
# token's jti (the same on every attempt), ``body`` the pairwise subject and sid.
backchannel_deliveries, backchannel_attempts = webhook_tables.define_tables(metadata)
