"""``gaap-admin``'s security options: ``--profile fapi2`` and what it sets and keeps,
``--require-signed-request-object`` and ``--dpop-bound-access-tokens``, at creation
and by ``update-agency``, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from tests.integration.test_admin_cli import admin, as_json, identity_database, run_admin

pytestmark = pytest.mark.usefixtures(identity_database.__name__)

SECURITY = (
    "profile",
    "require_pushed_authorization_requests",
    "require_signed_request_object",
    "dpop_bound_access_tokens",
)


def jwks_file(tmp_path: Path, key: dict[str, Any]) -> str:
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [key]}))
    return str(path)


def ec_key() -> dict[str, Any]:
    return ECAlgorithm.to_jwk(ec.generate_private_key(ec.SECP256R1()).public_key(), as_dict=True)


def rsa_key(alg: str | None) -> dict[str, Any]:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key = RSAAlgorithm.to_jwk(private.public_key(), as_dict=True)
    return {**key, "alg": alg} if alg else key


def create(tmp_path: Path, database_url: str, *options: str) -> dict[str, Any]:
    base = ("create-agency", "--name", "Benefits", "--scope", "openid")
    return dict(as_json(admin(tmp_path, database_url, *base, *options)))


def security(agency: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(agency[name] for name in SECURITY)


def test_fapi2_sets_par_and_dpop_and_they_stay_until_the_profile_goes(
    tmp_path: Path, database_url: str
) -> None:
    created = create(
        tmp_path, database_url, "--profile", "fapi2", "--jwks-file", jwks_file(tmp_path, ec_key())
    )
    assert security(created) == ("fapi2", True, False, True)
    assert created["auth_methods"] == ["private_key_jwt"]
    assert "client_secret" not in created
    client_id = created["client_id"]

    refused = admin(
        tmp_path, database_url, "update-agency", client_id, "--no-require-par", ok=False
    )
    assert refused.returncode == 2
    assert "require_pushed_authorization_requests: the fapi2 profile requires it" in refused.stderr
    refused = admin(
        tmp_path, database_url, "update-agency", client_id, "--id-token-alg", "RS256", ok=False
    )
    assert "id_token_alg: the fapi2 profile signs ID tokens with ES256 only" in refused.stderr
    [listed] = [
        a
        for a in as_json(admin(tmp_path, database_url, "list-agencies"))
        if a["client_id"] == client_id
    ]
    assert listed == {k: v for k, v in created.items() if k != "token_endpoint"}

    standard = as_json(
        admin(tmp_path, database_url, "update-agency", client_id, "--profile", "standard")
    )
    assert security(standard) == ("standard", True, False, True)  # flags kept
    relaxed = as_json(
        admin(
            tmp_path,
            database_url,
            "update-agency",
            client_id,
            "--no-require-par",
            "--no-dpop-bound-access-tokens",
        )
    )
    assert security(relaxed) == ("standard", False, False, False)
    again = as_json(admin(tmp_path, database_url, "update-agency", client_id, "--profile", "fapi2"))
    assert security(again) == ("fapi2", True, False, True)  # set again by the profile


def test_the_other_options_are_set_and_changed_on_any_agency(
    tmp_path: Path, database_url: str
) -> None:
    created = create(
        tmp_path,
        database_url,
        "--jwks-file",
        jwks_file(tmp_path, rsa_key("RS256")),
        "--require-signed-request-object",
        "--dpop-bound-access-tokens",
    )
    assert security(created) == ("standard", False, True, True)
    client_id = created["client_id"]
    off = as_json(
        admin(
            tmp_path,
            database_url,
            "update-agency",
            client_id,
            "--no-require-signed-request-object",
            "--no-dpop-bound-access-tokens",
        )
    )
    assert security(off) == ("standard", False, False, False)
    plain = create(tmp_path, database_url)
    assert security(plain) == ("standard", False, False, False)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            ["--profile", "fapi2"],
            "jwks: the fapi2 profile authenticates agencies by private_key_jwt only",
        ),
        (["--profile", "fapi2", "--public"], "public: the fapi2 profile admits no public client"),
        (
            ["--profile", "fapi2", "--no-dpop-bound-access-tokens", "--jwks-file", "EC"],
            "dpop_bound_access_tokens: the fapi2 profile requires it",
        ),
        (
            ["--profile", "fapi2", "--jwks-file", "RS256"],
            "jwks.keys[0].alg: the fapi2 profile takes RSA keys only with alg PS256",
        ),
        (
            ["--require-signed-request-object"],
            "require_signed_request_object: request objects are verified by the agency's keys",
        ),
    ],
)
def test_a_refused_creation_says_why_in_one_line_and_creates_nothing(
    tmp_path: Path, database_url: str, options: list[str], message: str
) -> None:
    keys = {"EC": ec_key(), "RS256": rsa_key("RS256")}
    options = [jwks_file(tmp_path, keys[o]) if o in keys else o for o in options]
    before = as_json(admin(tmp_path, database_url, "list-agencies", "--all"))
    base = ("create-agency", "--name", "Refused", "--scope", "openid")
    result = admin(tmp_path, database_url, *base, *options, ok=False)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert message in result.stderr
    assert as_json(admin(tmp_path, database_url, "list-agencies", "--all")) == before


def test_a_secret_agency_cannot_switch_to_fapi2(tmp_path: Path, database_url: str) -> None:
    created = create(tmp_path, database_url)
    client_id = created["client_id"]
    refused = admin(
        tmp_path, database_url, "update-agency", client_id, "--profile", "fapi2", ok=False
    )
    assert "jwks: the fapi2 profile authenticates agencies by private_key_jwt only" in (
        refused.stderr
    )
    [kept] = [
        a
        for a in as_json(admin(tmp_path, database_url, "list-agencies"))
        if a["client_id"] == client_id
    ]
    assert security(kept) == ("standard", False, False, False)


def test_help_describes_the_profile() -> None:
    for command in ("create-agency", "update-agency"):
        text = " ".join(run_admin(command, "--help").stdout.split())
        assert "--profile {standard,fapi2}" in text
        assert "fapi2: the FAPI 2.0 Security Profile" in text
        assert "--require-signed-request-object, --no-require-signed-request-object" in text
        assert "--dpop-bound-access-tokens, --no-dpop-bound-access-tokens" in text
