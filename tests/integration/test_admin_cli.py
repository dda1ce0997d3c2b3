"""``gaap-admin``, the operator CLI installed in the virtual environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from services.runtime import db

GAAP_ADMIN = Path(sys.executable).parent / "gaap-admin"
USING = "gaap-admin: identity's database is "


def run_admin(
    *args: str, cwd: Path | None = None, **settings: str
) -> subprocess.CompletedProcess[str]:
    """gaap-admin with only ``settings`` (GAAP_VAR_DIR=..., ...) of the platform's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GAAP_", "IDENTITY_"))}
    env.update(settings)
    return subprocess.run(
        [str(GAAP_ADMIN), *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def admin(
    var_dir: Path, database_url: str, *args: str, ok: bool = True
) -> subprocess.CompletedProcess[str]:
    """gaap-admin on ``database_url``. Its first line on stderr names that database
    (checked here); ``stderr`` is what follows."""
    result = run_admin(*args, GAAP_VAR_DIR=str(var_dir), IDENTITY_DATABASE_URL=database_url)
    using, _, rest = result.stderr.partition("\n")
    assert using == USING + db.shown(database_url), result.stderr
    result.stderr = rest
    if ok:
        assert result.returncode == 0, result.stderr
    return result


@pytest.fixture(scope="module")
def identity_database(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    """The module's database, made as an operator makes a new platform's (other
    modules that run gaap-admin use it too)."""
    admin(tmp_path_factory.mktemp("var"), database_url, "--create", "list-agencies")


pytestmark = pytest.mark.usefixtures(identity_database.__name__)


def as_json(result: subprocess.CompletedProcess[str]) -> Any:
    return json.loads(result.stdout)


def test_create_list_and_disable(tmp_path: Path, database_url: str) -> None:
    created = as_json(
        admin(
            tmp_path,
            database_url,
            "create-agency",
            "--name",
            "Parking Permits",
            "--scope",
            "payments:create",
            "--scope",
            "notify:send",
            "--redirect-uri",
            "https://parking.example.gov/callback",
            "--mode",
            "live",
        )
    )
    assert created["client_id"].startswith("ag_")
    assert created["client_secret"].startswith("gaap_live_")
    assert created["scopes"] == ["payments:create", "notify:send"]
    assert created["token_endpoint"].endswith("/oauth2/token")

    listed = as_json(admin(tmp_path, database_url, "list-agencies"))
    assert created["client_id"] in [a["client_id"] for a in listed]
    assert all("client_secret" not in a for a in listed)

    disabled = as_json(admin(tmp_path, database_url, "disable-agency", created["client_id"]))
    assert disabled["disabled_at"]
    assert created["client_id"] not in [
        a["client_id"] for a in as_json(admin(tmp_path, database_url, "list-agencies"))
    ]
    everything = as_json(admin(tmp_path, database_url, "list-agencies", "--all"))
    assert created["client_id"] in [a["client_id"] for a in everything]


def test_jwks_agency_gets_no_secret(tmp_path: Path, database_url: str) -> None:
    public = ECAlgorithm.to_jwk(ec.generate_private_key(ec.SECP256R1()).public_key(), as_dict=True)
    public["kid"] = "k1"
    jwks_file = tmp_path / "jwks.json"
    jwks_file.write_text(json.dumps({"keys": [public]}))
    created = as_json(
        admin(
            tmp_path,
            database_url,
            "create-agency",
            "--name",
            "Keyed",
            "--scope",
            "notify:send",
            "--jwks-file",
            str(jwks_file),
        )
    )
    assert "client_secret" not in created
    assert created["auth_methods"] == ["private_key_jwt"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["create-agency", "--name", "X", "--scope", "payments:steal"], "unknown scope"),
        (["create-agency", "--name", " ", "--scope", "notify:send"], "name: required"),
        (
            [
                "create-agency",
                "--name",
                "X",
                "--scope",
                "notify:send",
                "--redirect-uri",
                "http://evil.example/cb",
            ],
            "must be an absolute https URL",
        ),
        (
            [
                "create-agency",
                "--name",
                "X",
                "--scope",
                "notify:send",
                "--jwks-file",
                "/nonexistent.json",
            ],
            "cannot read /nonexistent.json",
        ),
        (["disable-agency", "ag_nope"], "no agency"),
    ],
)
def test_bad_input_is_one_line_and_changes_nothing(
    tmp_path: Path, database_url: str, args: list[str], message: str
) -> None:
    before = as_json(admin(tmp_path, database_url, "list-agencies", "--all"))
    result = admin(tmp_path, database_url, *args, ok=False)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert message in result.stderr
    assert as_json(admin(tmp_path, database_url, "list-agencies", "--all")) == before


def test_require_par_is_set_at_creation_and_changed_by_update(
    tmp_path: Path, database_url: str
) -> None:
    created = as_json(
        admin(
            tmp_path,
            database_url,
            "create-agency",
            "--name",
            "Strict sign-in",
            "--scope",
            "openid",
            "--redirect-uri",
            "https://strict.example.gov/callback",
            "--require-par",
        )
    )
    assert created["require_pushed_authorization_requests"] is True
    client_id = created["client_id"]
    relaxed = as_json(admin(tmp_path, database_url, "update-agency", client_id, "--no-require-par"))
    assert relaxed["require_pushed_authorization_requests"] is False
    renamed = as_json(admin(tmp_path, database_url, "update-agency", client_id, "--name", "Other"))
    assert renamed["require_pushed_authorization_requests"] is False  # untouched when not given
    again = as_json(admin(tmp_path, database_url, "update-agency", client_id, "--require-par"))
    assert again["require_pushed_authorization_requests"] is True
    plain = as_json(
        admin(tmp_path, database_url, "create-agency", "--name", "Plain", "--scope", "openid")
    )
    assert plain["require_pushed_authorization_requests"] is False
