"""identity's agency registration, word for word: the OpenID Connect client metadata
(subject type, sector, ID token algorithm, logout URIs), the exact error each bad field
gets (agency developers read them), and the shape of client ids and secrets."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from services.identity.domain.agencies import (
    MAX_NAME,
    MAX_REDIRECT_URIS,
    Agency,
    new_client_id,
    new_client_secret,
    register,
    require,
)
from services.identity.domain.scopes import KNOWN_SCOPES
from services.runtime.egress import Egress, parse_networks
from services.runtime.errors import FieldViolation, InvalidArgument, NotFound

HTTPS_RULE = "must be an absolute https URL (http only for localhost, 127.0.0.1 or [::1])"


def refusals(now: datetime, **fields: Any) -> list[FieldViolation]:
    """Every violation ``register`` reports for ``fields``, in order."""
    arguments: dict[str, Any] = {"name": "HM Passport Office", "scopes": ["openid"]}
    arguments.update(fields)
    with pytest.raises(InvalidArgument) as info:
        register(now=now, **arguments)
    return list(info.value.violations)


def accepted(now: datetime, **fields: Any) -> Agency:
    arguments: dict[str, Any] = {"name": "HM Passport Office", "scopes": ["openid"]}
    arguments.update(fields)
    return register(now=now, **arguments).agency


def public_jwk(key: ec.EllipticCurvePrivateKey) -> dict[str, Any]:
    return ECAlgorithm.to_jwk(key.public_key(), as_dict=True)


# --- the exact words of each refusal -----------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"name": " "}, [FieldViolation("name", "required")]),
        ({"name": "x" * (MAX_NAME + 1)}, [FieldViolation("name", "at most 200 characters")]),
        ({"name": "A\x07B"}, [FieldViolation("name", "must not contain control characters")]),
        ({"scopes": []}, [FieldViolation("scopes", "at least one scope is required")]),
        ({"mode": "prod"}, [FieldViolation("mode", "must be 'test' or 'live'")]),
        (
            {"redirect_uris": ["https://a.example.gov.uk/cb"] * (MAX_REDIRECT_URIS + 1)},
            [FieldViolation("redirect_uris", "at most 20")],
        ),
        (
            {"subject_type": "Public"},
            [FieldViolation("subject_type", "must be 'pairwise' or 'public'")],
        ),
        ({"id_token_alg": "HS256"}, [FieldViolation("id_token_alg", "must be 'ES256' or 'RS256'")]),
        ({"sector_identifier": ""}, [FieldViolation("sector_identifier", "1 to 255 characters")]),
        (
            {"sector_identifier": "s" * 256},
            [FieldViolation("sector_identifier", "1 to 255 characters")],
        ),
        (
            {"post_logout_redirect_uris": ["https://a.example.gov.uk/bye", "http://a.example/x"]},
            [FieldViolation("post_logout_redirect_uris[1]", HTTPS_RULE)],
        ),
        (
            {"backchannel_logout_uri": "http://agency.example.gov.uk/logout"},
            [FieldViolation("backchannel_logout_uri", HTTPS_RULE)],
        ),
        (
            {"backchannel_logout_uri": "https://10.1.2.3/logout"},
            [FieldViolation("backchannel_logout_uri", "must not point at a private address")],
        ),
    ],
    ids=[
        "blank-name",
        "long-name",
        "control-name",
        "no-scopes",
        "mode",
        "too-many-redirects",
        "subject-type",
        "id-token-alg",
        "empty-sector",
        "long-sector",
        "post-logout-uri",
        "backchannel-http",
        "backchannel-private",
    ],
)
def test_each_refusal_names_its_field_and_says_why(
    now: datetime, fields: dict[str, Any], expected: list[FieldViolation]
) -> None:
    assert refusals(now, **fields) == expected


def test_an_unknown_scope_is_named_with_every_known_one(now: datetime) -> None:
    known = ", ".join(KNOWN_SCOPES)
    assert refusals(now, scopes=["openid", "payments:steal"]) == [
        FieldViolation("scopes[1]", f"unknown scope 'payments:steal'; known: {known}")
    ]
    assert known.startswith("payments:create, payments:read, ")


def test_the_whole_message_lists_the_fields(now: datetime) -> None:
    with pytest.raises(InvalidArgument) as info:
        register(name="", scopes=["openid"], mode="prod", subject_type="x", now=now)
    assert info.value.message == "invalid request: check name, mode, subject_type"


# --- JWK Sets: every key judged on its own, in words ---------------------------------


def test_every_bad_key_of_a_set_is_reported_with_its_reason(
    now: datetime, ec_private_key: ec.EllipticCurvePrivateKey
) -> None:
    good = public_jwk(ec_private_key)
    keys = [
        "not an object",
        {**good, "d": "AAAA"},
        {"kty": "oct", "k": "c2VjcmV0"},
        {"kty": "OKP", "crv": "Ed25519", "x": "AAAA"},
        {**good, "alg": "HS256"},
        {"kty": "EC", "crv": "P-256"},
        good,
    ]
    found = refusals(now, jwks={"keys": keys})
    assert found[:5] == [
        FieldViolation("jwks.keys[0]", "must be a JSON object"),
        FieldViolation("jwks.keys[1]", "contains private key material"),
        FieldViolation("jwks.keys[2]", "contains private key material"),
        FieldViolation("jwks.keys[3]", "only EC and RSA keys are accepted"),
        FieldViolation("jwks.keys[4].alg", "must be one of ES256, PS256, RS256"),
    ]
    assert len(found) == 6
    assert found[5].field == "jwks.keys[5]"
    assert found[5].description.startswith("not a usable public key: ")
    assert len(found[5].description) > len("not a usable public key: ")


@pytest.mark.parametrize("document", [{}, {"keys": []}, {"keys": {"kty": "EC"}}])
def test_a_document_without_keys_is_refused_in_words(
    now: datetime, document: dict[str, Any]
) -> None:
    assert refusals(now, jwks=document) == [
        FieldViolation("jwks", "must be a JWK Set with at least one key")
    ]


# --- public clients ------------------------------------------------------------------------


def test_a_public_client_holds_no_credential(now: datetime) -> None:
    created = register(name="Agency", scopes=["openid"], public=True, now=now)
    assert created.client_secret is None
    assert created.agency.auth_methods == ("none",)
    assert created.agency.public
    assert created.agency.secret_hash is None
    assert not created.agency.check_secret("")


def test_a_public_client_cannot_also_register_keys(
    now: datetime, ec_private_key: ec.EllipticCurvePrivateKey
) -> None:
    assert refusals(now, public=True, jwks={"keys": [public_jwk(ec_private_key)]}) == [
        FieldViolation("public", "a public client cannot also register keys")
    ]


def test_a_client_with_keys_is_not_public(
    now: datetime, ec_private_key: ec.EllipticCurvePrivateKey
) -> None:
    agency = accepted(now, jwks={"keys": [public_jwk(ec_private_key)]})
    assert agency.auth_methods == ("private_key_jwt",)
    assert not agency.public


def test_oidc_refusals_add_up_with_the_others(
    now: datetime, ec_private_key: ec.EllipticCurvePrivateKey
) -> None:
    found = refusals(
        now,
        name="",
        public=True,
        jwks={"keys": [public_jwk(ec_private_key)]},
        backchannel_logout_uri="http://agency.example.gov.uk/logout",
    )
    assert found == [
        FieldViolation("name", "required"),
        FieldViolation("public", "a public client cannot also register keys"),
        FieldViolation("backchannel_logout_uri", HTTPS_RULE),
    ]


# --- OpenID Connect client metadata is kept as registered ------------------------------


def test_defaults_are_pairwise_es256_and_no_logout_uris(now: datetime) -> None:
    agency = accepted(now)
    assert agency.subject_type == "pairwise"
    assert agency.sector_identifier is None
    assert agency.sector == agency.client_id
    assert agency.id_token_alg == "ES256"
    assert agency.post_logout_redirect_uris == ()
    assert agency.backchannel_logout_uri is None


def test_oidc_metadata_is_kept(now: datetime) -> None:
    agency = accepted(
        now,
        subject_type="public",
        sector_identifier="https://sector.example.gov.uk/uris.json",
        id_token_alg="RS256",
        post_logout_redirect_uris=["https://a.example.gov.uk/bye", "http://localhost:3000/bye"],
        backchannel_logout_uri="https://a.example.gov.uk/logout",
    )
    assert agency.subject_type == "public"
    assert agency.sector_identifier == "https://sector.example.gov.uk/uris.json"
    assert agency.sector == "https://sector.example.gov.uk/uris.json"
    assert agency.id_token_alg == "RS256"
    assert agency.post_logout_redirect_uris == (
        "https://a.example.gov.uk/bye",
        "http://localhost:3000/bye",
    )
    assert agency.backchannel_logout_uri == "https://a.example.gov.uk/logout"


@pytest.mark.parametrize("length", [1, 255])
def test_a_sector_identifier_of_1_to_255_characters_is_kept(now: datetime, length: int) -> None:
    assert accepted(now, sector_identifier="s" * length).sector_identifier == "s" * length


def test_a_private_backchannel_target_is_kept_when_egress_allows_it(now: datetime) -> None:
    """The operator's egress exceptions decide what a logout URI may point at."""
    inside = Egress(parse_networks("10.0.0.0/8"))
    agency = accepted(now, backchannel_logout_uri="https://10.1.2.3/logout", egress=inside)
    assert agency.backchannel_logout_uri == "https://10.1.2.3/logout"


# --- identifiers, secrets, lookups -------------------------------------------------------


def test_client_ids_are_ag_and_96_random_bits_in_hex() -> None:
    ids = {new_client_id() for _ in range(20)}
    assert len(ids) == 20
    for client_id in ids:
        assert re.fullmatch(r"ag_[0-9a-f]{24}", client_id)


@pytest.mark.parametrize("mode", ["test", "live"])
def test_client_secrets_are_prefixed_and_256_random_bits(mode: str) -> None:
    secret = new_client_secret(mode)  # type: ignore[arg-type]
    assert re.fullmatch(rf"gaap_{mode}_[A-Za-z0-9_-]{{43}}", secret)


def test_require_names_the_missing_client_id(now: datetime) -> None:
    with pytest.raises(NotFound) as info:
        require(None, "ag_missing")
    assert info.value.message == "no agency with client id 'ag_missing'"
    agency = accepted(now)
    assert require(agency, agency.client_id) is agency
