"""``gaap-admin``'s operator commands: OIDC registration, updates, keys, accounts."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.identity.bootstrap import open_identity
from services.identity.settings import IdentitySettings
from tests.integration.test_admin_cli import admin, as_json, identity_database
from tests.support.platform import settings_for

# Each module makes its database with ``gaap-admin --create`` first, as an operator does.
pytestmark = pytest.mark.usefixtures(identity_database.__name__)


def test_create_and_update_an_oidc_agency(tmp_path: Path, database_url: str) -> None:
    created = as_json(
        admin(
            tmp_path,
            database_url,
            "create-agency",
            "--name",
            "Blue Badge",
            "--scope",
            "openid",
            "--redirect-uri",
            "https://badge.example.gov/cb",
            "--public",
            "--subject-type",
            "public",
            "--id-token-alg",
            "RS256",
            "--post-logout-redirect-uri",
            "https://badge.example.gov/bye",
            "--backchannel-logout-uri",
            "https://badge.example.gov/logout",
        )
    )
    assert "client_secret" not in created
    assert created["auth_methods"] == ["none"]
    assert (created["subject_type"], created["id_token_alg"]) == ("public", "RS256")
    assert created["post_logout_redirect_uris"] == ["https://badge.example.gov/bye"]

    updated = as_json(
        admin(
            tmp_path,
            database_url,
            "update-agency",
            created["client_id"],
            "--name",
            "Blue Badges",
            "--sector-identifier",
            "badge.example.gov",
            "--clear",
            "backchannel_logout_uri",
        )
    )
    assert updated["name"] == "Blue Badges"
    assert updated["sector_identifier"] == "badge.example.gov"
    assert updated["backchannel_logout_uri"] is None
    assert updated["redirect_uris"] == created["redirect_uris"]

    bad = admin(
        tmp_path,
        database_url,
        "update-agency",
        created["client_id"],
        "--redirect-uri",
        "http://evil.example/cb",
        ok=False,
    )
    assert bad.returncode == 2
    assert len(bad.stderr.strip().splitlines()) == 1
    assert "redirect_uris[0]" in bad.stderr


def test_rotate_and_list_keys(tmp_path: Path, database_url: str) -> None:
    listed = as_json(admin(tmp_path, database_url, "list-keys"))
    # A key per advertised ID-token algorithm, each signing from the first start.
    assert sorted((k["alg"], k["status"]) for k in listed) == [
        ("ES256", "signing"),
        ("RS256", "signing"),
    ]
    before = [k for k in listed if k["alg"] == "ES256"]
    (rotation,) = as_json(admin(tmp_path, database_url, "rotate-keys", "--alg", "ES256"))
    assert rotation["retired_kid"] == before[0]["kid"]
    after = {k["kid"]: k for k in as_json(admin(tmp_path, database_url, "list-keys"))}
    assert after[rotation["new_kid"]]["status"] == "pending"  # published, signs in 15 minutes
    assert after[before[0]["kid"]]["status"] == "signing"
    assert after[before[0]["kid"]]["signs_until"] == rotation["new_key_signs_from"]
    again = admin(tmp_path, database_url, "rotate-keys", ok=False)
    assert again.returncode == 2
    assert len(again.stderr.strip().splitlines()) == 1
    assert "under way" in again.stderr


def test_lock_lookup_and_unlock_an_account(tmp_path: Path, database_url: str) -> None:
    identity = open_identity(settings_for(tmp_path), IdentitySettings(database_url=database_url))
    try:
        account = identity.accounts.create(
            email="cli-citizen@example.org", password="a long password"
        )
    finally:
        identity.database.close()
    locked = as_json(
        admin(
            tmp_path,
            database_url,
            "lock-account",
            "--email",
            "CLI-citizen@example.org",
            "--until",
            "2099-01-01T00:00:00",
            "--reason",
            "fraud check",
        )
    )
    assert locked["account_id"] == account.id
    assert locked["locked"]
    assert locked["locked_until"] == "2099-01-01T00:00:00+00:00"
    looked = as_json(admin(tmp_path, database_url, "lookup-account", "--account-id", account.id))
    assert looked == locked
    assert "password_hash" not in looked
    assert "totp_secret" not in looked
    unlocked = as_json(admin(tmp_path, database_url, "unlock-account", "--account-id", account.id))
    assert not unlocked["locked"]

    bad = admin(
        tmp_path,
        database_url,
        "lock-account",
        "--account-id",
        account.id,
        "--until",
        "soon",
        ok=False,
    )
    assert bad.returncode == 2
    assert "--until" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1
