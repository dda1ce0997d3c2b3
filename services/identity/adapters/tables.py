"""identity's tables. Migrations in ``services/identity/migrations`` create them."""

from __future__ import annotations

import sqlalchemy as sa

from services.runtime.db_types import UtcDateTime

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

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
