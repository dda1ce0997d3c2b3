"""Migration 0006 (consent per claim) on a database in service before it: existing
consents start with no claim agreed one by one, and live codes and tokens keep
only the claims their own consented scopes cover (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from services.identity.adapters.tables import authorization_codes, consents, user_tokens
from services.runtime import db
from services.runtime.db_types import utcnow
from tests.support.databases import for_service

MIGRATIONS = Path(__file__).parents[2] / "services" / "identity" / "migrations"
ASKED = {
    "id_token": {"email": None, "address": {"essential": True}, "acr": {"values": ["Cl.Cm"]}},
    "userinfo": {"phone_number": None, "email_verified": None},
}


def upgrade(engine: sa.Engine, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def token(token_id: str, scope: str, **extra: Any) -> dict[str, Any]:
    now = utcnow()
    return {
        "id": token_id,
        "kind": "refresh",
        "client_id": "ag_1",
        "account_id": "acc_1",
        "sid": "sid_1",
        "scope": scope,
        "claims": ASKED,
        "acr": "Cl",
        "amr": ["pwd"],
        "auth_time": now,
        "created_at": now,
        "expires_at": now + timedelta(days=30),
        **extra,
    }


def test_existing_consents_and_live_tokens_release_nothing_unagreed(database_url: str) -> None:
    engine = db.create_engine(for_service(database_url, "identity"))
    now = utcnow()
    try:
        upgrade(engine, "0005")
        with engine.begin() as connection:
            connection.execute(
                consents.insert().values(
                    account_id="acc_1",
                    client_id="ag_1",
                    scopes=["openid", "email"],
                    granted_at=now,
                    last_used_at=now,
                )
            )
            connection.execute(user_tokens.insert().values(token("t_email", "openid email")))
            connection.execute(user_tokens.insert().values(token("t_openid", "openid")))
            connection.execute(
                authorization_codes.insert().values(
                    code_hash="c_1",
                    client_id="ag_1",
                    account_id="acc_1",
                    sid="sid_1",
                    redirect_uri="https://rp.example.gov/callback",
                    scope="openid phone",
                    code_challenge="x" * 43,
                    claims=ASKED,
                    acr="Cl",
                    amr=["pwd"],
                    auth_time=now,
                    created_at=now,
                    expires_at=now + timedelta(seconds=60),
                )
            )
        upgrade(engine, "0006")
        with engine.connect() as connection:
            agreed = connection.execute(sa.select(consents.c.scopes, consents.c.claims)).one()
            rows = connection.execute(sa.select(user_tokens.c.id, user_tokens.c.claims))
            tokens = {row.id: row.claims for row in rows}
            code = connection.execute(sa.select(authorization_codes.c.claims)).scalar_one()
    finally:
        engine.dispose()
    assert (agreed.scopes, agreed.claims) == (["openid", "email"], [])
    acr = {"acr": {"values": ["Cl.Cm"]}}
    assert tokens["t_email"] == {
        "id_token": {"email": None, **acr},
        "userinfo": {"email_verified": None},
    }
    assert tokens["t_openid"] == {"id_token": acr, "userinfo": {}}
    assert code == {"id_token": acr, "userinfo": {"phone_number": None}}
