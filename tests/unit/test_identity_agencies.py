"""identity's agency rules: registration validation, secrets, scopes, disabling."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from services.identity.domain.agencies import (
    MAX_NAME,
    MAX_REDIRECT_URIS,
    SECRET_METHODS,
    Agency,
    NewAgency,
    register,
)
from services.runtime.errors import InvalidArgument


def violations(now: datetime, **fields: Any) -> dict[str, str]:
    """``field -> description`` of every violation ``register`` reports for ``fields``."""
    arguments: dict[str, Any] = {"name": "HM Passport Office", "scopes": ["notify:send"]}
    arguments.update(fields)
    with pytest.raises(InvalidArgument) as info:
        register(now=now, **arguments)
    found = {v.field: v.description for v in info.value.violations}
    assert len(found) == len(info.value.violations), "one violation per field"
    for field in found:
        assert field in info.value.message
    return found


def ec_public_jwk(key: ec.EllipticCurvePrivateKey, **extra: Any) -> dict[str, Any]:
    raw = ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
    raw.update(extra)
    return raw


def rsa_public_jwk(key: rsa.RSAPrivateKey, **extra: Any) -> dict[str, Any]:
    raw = RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    raw.update(extra)
    return raw


@pytest.fixture
def secret_agency(now: datetime) -> NewAgency:
    return register(
        name="HM Passport Office",
        scopes=["payments:create", "payments:read", "notify:send"],
        redirect_uris=["https://passports.example.gov.uk/callback"],
        now=now,
    )


# --- every problem at once ---------------------------------------------------------------


def test_every_violation_is_reported_at_once(
    now: datetime, ec_private_key: ec.EllipticCurvePrivateKey
) -> None:
    found = violations(
        now,
        name="",
        scopes=["notify:send", "payments:steal"],
        redirect_uris=["https://ok.example.gov.uk/cb", "http://agency.example.gov.uk/cb"],
        mode="prod",
        jwks={"keys": [ec_public_jwk(ec_private_key, d="c2VjcmV0")]},
    )
    assert set(found) == {"name", "scopes[1]", "redirect_uris[1]", "mode", "jwks.keys[0]"}


# --- name ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "",
        "   ",
        "x" * (MAX_NAME + 1),
        "Bad\x00Agency",
        "Bad\nAgency",
        "Bad\tAgency",
        "Bad\x1bAgency",
        "Bad\x7fAgency",  # DEL
        "Bad\x9bAgency",  # C1 CSI: a terminal escape in logs and the CLI
    ],
    ids=["empty", "blank", "too-long", "nul", "newline", "tab", "esc", "del", "c1-csi"],
)
def test_bad_names_are_refused(now: datetime, name: str) -> None:
    assert set(violations(now, name=name)) == {"name"}


def test_name_is_stripped_and_may_be_max_length(now: datetime) -> None:
    name = "y" * MAX_NAME
    created = register(name=f"  {name}  ", scopes=["notify:send"], now=now)
    assert created.agency.name == name


def test_non_ascii_names_are_fine(now: datetime) -> None:
    created = register(name="Llywodraeth Cymru: Gŵyl Ddewi", scopes=["notify:send"], now=now)
    assert created.agency.name == "Llywodraeth Cymru: Gŵyl Ddewi"


# --- scopes --------------------------------------------------------------------------------


def test_no_scopes_is_refused(now: datetime) -> None:
    assert set(violations(now, scopes=[])) == {"scopes"}


def test_each_unknown_scope_is_reported_with_its_index(now: datetime) -> None:
    found = violations(now, scopes=["payments:steal", "notify:send", "admin"])
    assert set(found) == {"scopes[0]", "scopes[2]"}
    assert "payments:steal" in found["scopes[0]"]


def test_duplicate_scopes_are_kept_once_in_order(now: datetime) -> None:
    created = register(
        name="Agency", scopes=["notify:send", "payments:read", "notify:send"], now=now
    )
    assert created.agency.scopes == ("notify:send", "payments:read")


# --- redirect URIs -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "uri",
    [
        "https://agency.example.gov.uk/callback",
        "https://agency.example.gov.uk:8443/oauth/callback?x=1",
        "http://127.0.0.1:8080/callback",
        "http://localhost/callback",
        "http://localhost:3000/cb",
        "http://[::1]:9000/cb",
    ],
)
def test_acceptable_redirect_uris(now: datetime, uri: str) -> None:
    created = register(name="Agency", scopes=["notify:send"], redirect_uris=[uri], now=now)
    assert created.agency.redirect_uris == (uri,)


@pytest.mark.parametrize(
    "uri",
    [
        "http://agency.example.gov.uk/callback",
        "http://localhost.evil.example/callback",
        "http://127.0.0.1.evil.example/callback",
        "https://agency.example.gov.uk/callback#fragment",
        "https://agency.example.gov.uk/callback#",
        "not a url",
        "/relative/callback",
        "agency.example.gov.uk/callback",
        "https:///no-host",
        "http://[::1",
        "javascript:alert(1)",
        "ftp://agency.example.gov.uk/callback",
        "https://agency.example.gov.uk/" + "a" * 2000,
    ],
)
def test_unacceptable_redirect_uris(now: datetime, uri: str) -> None:
    found = violations(now, redirect_uris=["https://fine.example.gov.uk/cb", uri])
    assert set(found) == {"redirect_uris[1]"}


def test_fragment_refusal_says_so(now: datetime) -> None:
    found = violations(now, redirect_uris=["https://agency.example.gov.uk/cb#x"])
    assert "fragment" in found["redirect_uris[0]"]


def test_too_many_redirect_uris(now: datetime) -> None:
    uris = [f"https://agency.example.gov.uk/cb/{i}" for i in range(MAX_REDIRECT_URIS + 1)]
    assert set(violations(now, redirect_uris=uris)) == {"redirect_uris"}
    created = register(
        name="Agency", scopes=["notify:send"], redirect_uris=uris[:MAX_REDIRECT_URIS], now=now
    )
    assert len(created.agency.redirect_uris) == MAX_REDIRECT_URIS


# --- mode ----------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["prod", "", "TEST", "Live"])
def test_unknown_mode_is_refused(now: datetime, mode: str) -> None:
    assert set(violations(now, mode=mode)) == {"mode"}


@pytest.mark.parametrize("mode", ["test", "live"])
def test_mode_is_kept(now: datetime, mode: str) -> None:
    assert register(name="Agency", scopes=["notify:send"], mode=mode, now=now).agency.mode == mode


# --- JWKS (private_key_jwt agencies) -----------------------------------------------------


def test_valid_ec_jwks_makes_a_private_key_jwt_agency(
    now: datetime, ec_private_key: ec.EllipticCurvePrivateKey
) -> None:
    document = {"keys": [ec_public_jwk(ec_private_key, kid="agency-1", alg="ES256", use="sig")]}
    created = register(name="Agency", scopes=["notify:send"], jwks=document, now=now)
    assert created.client_secret is None
    assert created.agency.secret_hash is None
    assert created.agency.auth_methods == ("private_key_jwt",)
    assert created.agency.jwks == document
    assert not created.agency.check_secret("")


def test_valid_rsa_jwks_is_accepted(now: datetime, rsa_private_key: rsa.RSAPrivateKey) -> None:
    document = {"keys": [rsa_public_jwk(rsa_private_key, kid="r1", alg="PS256")]}
    created = register(name="Agency", scopes=["notify:send"], jwks=document, now=now)
    assert created.agency.auth_methods == ("private_key_jwt",)


@pytest.mark.parametrize("member", ["d", "p", "q"])
def test_private_material_in_jwks_is_refused(
    now: datetime, ec_private_key: ec.EllipticCurvePrivateKey, member: str
) -> None:
    found = violations(now, jwks={"keys": [ec_public_jwk(ec_private_key, **{member: "AAAA"})]})
    assert set(found) == {"jwks.keys[0]"}
    assert "private" in found["jwks.keys[0]"]


def test_real_rsa_private_jwk_is_refused(now: datetime, rsa_private_key: rsa.RSAPrivateKey) -> None:
    private = RSAAlgorithm.to_jwk(rsa_private_key, as_dict=True)
    found = violations(now, jwks={"keys": [private]})
    assert "private" in found["jwks.keys[0]"]


@pytest.mark.parametrize(
    "key",
    [
        {"kty": "oct", "k": "c2VjcmV0"},
        {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
        {"kty": "oct"},
    ],
    ids=["oct-secret", "okp", "oct-empty"],
)
def test_non_ec_rsa_keys_are_refused(now: datetime, key: dict[str, Any]) -> None:
    assert set(violations(now, jwks={"keys": [key]})) == {"jwks.keys[0]"}


@pytest.mark.parametrize("alg", ["HS256", "none", "ES512", "RS512"])
def test_bad_assertion_algorithm_is_refused(
    now: datetime, ec_private_key: ec.EllipticCurvePrivateKey, alg: str
) -> None:
    found = violations(now, jwks={"keys": [ec_public_jwk(ec_private_key, alg=alg)]})
    assert set(found) == {"jwks.keys[0].alg"}


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ({}, "jwks"),
        ({"keys": []}, "jwks"),
        ({"keys": "not a list"}, "jwks"),
        ({"keys": [None]}, "jwks.keys[0]"),
    ],
    ids=["no-keys", "empty", "not-a-list", "not-an-object"],
)
def test_malformed_jwks_documents_are_refused(
    now: datetime, document: dict[str, Any], field: str
) -> None:
    assert set(violations(now, jwks=document)) == {field}


@pytest.mark.parametrize(
    "broken",
    [
        {"kty": "EC", "crv": "P-256"},
        {"kty": "EC", "crv": "P-256", "x": "AAAA", "y": "AAAA"},
        {"kty": "EC", "crv": "P-999", "x": "AAAA", "y": "AAAA"},
        {"kty": "RSA"},
        {"kty": "RSA", "n": "AQAB", "e": "AQAB"},
    ],
    ids=["ec-no-coordinates", "ec-short-coordinates", "ec-unknown-curve", "rsa-empty", "rsa-bad"],
)
def test_unusable_public_keys_are_invalid_argument(now: datetime, broken: dict[str, Any]) -> None:
    """An agency's broken key is bad input: INVALID_ARGUMENT on its field, never INTERNAL."""
    assert set(violations(now, jwks={"keys": [broken]})) == {"jwks.keys[0]"}


def test_ec_key_declaring_an_rsa_algorithm_is_invalid_argument(
    now: datetime, ec_private_key: ec.EllipticCurvePrivateKey
) -> None:
    found = violations(now, jwks={"keys": [ec_public_jwk(ec_private_key, alg="RS256")]})
    assert set(found) == {"jwks.keys[0]"}


# --- secrets -------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["test", "live"])
def test_secret_agencies_get_a_prefixed_secret_stored_only_as_its_hash(
    now: datetime, mode: str
) -> None:
    created = register(name="Agency", scopes=["notify:send"], mode=mode, now=now)
    secret = created.client_secret
    assert secret is not None
    assert secret.startswith(f"gaap_{mode}_")
    assert len(secret) >= len(f"gaap_{mode}_") + 40  # 256 random bits
    agency = created.agency
    assert agency.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in repr(agency)
    assert agency.auth_methods == SECRET_METHODS
    assert agency.jwks is None


def test_check_secret(secret_agency: NewAgency) -> None:
    secret = secret_agency.client_secret
    assert secret is not None
    agency = secret_agency.agency
    assert agency.check_secret(secret)
    assert not agency.check_secret(secret + "x")
    assert not agency.check_secret(secret[:-1])
    assert not agency.check_secret("")
    assert not agency.check_secret(agency.secret_hash or "")


def test_each_registration_gets_its_own_client_id_and_secret(now: datetime) -> None:
    first = register(name="Agency", scopes=["notify:send"], now=now)
    second = register(name="Agency", scopes=["notify:send"], now=now)
    assert first.agency.client_id != second.agency.client_id
    assert first.client_secret != second.client_secret
    assert first.client_secret is not None
    assert not second.agency.check_secret(first.client_secret)


def test_registration_records_time_and_is_enabled(secret_agency: NewAgency, now: datetime) -> None:
    assert secret_agency.agency.created_at == now
    assert not secret_agency.agency.disabled
    assert secret_agency.agency.disabled_at is None


# --- scopes an agency may use, and disabling --------------------------------------------


@pytest.mark.parametrize(
    ("requested", "allowed"),
    [
        ([], True),
        (["notify:send"], True),
        (["payments:create", "payments:read", "notify:send"], True),
        (["notify:send", "notify:send"], True),
        (["payments:refund"], False),
        (["notify:send", "identity:agencies"], False),
        (["notify"], False),
    ],
)
def test_allows_scopes(secret_agency: NewAgency, requested: list[str], allowed: bool) -> None:
    assert secret_agency.agency.allows_scopes(requested) is allowed


def test_disable_is_idempotent_and_keeps_the_first_time(
    secret_agency: NewAgency, now: datetime
) -> None:
    agency = secret_agency.agency
    first = now + timedelta(days=1)
    disabled = agency.disable(first)
    assert disabled.disabled
    assert disabled.disabled_at == first
    again = disabled.disable(first + timedelta(days=1))
    assert again.disabled_at == first
    assert again == disabled
    assert not agency.disabled  # agencies are values: the original is unchanged


def test_agency_is_immutable(secret_agency: NewAgency) -> None:
    agency: Agency = secret_agency.agency
    with pytest.raises(AttributeError):
        agency.name = "renamed"  # type: ignore[misc]
