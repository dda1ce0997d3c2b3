"""The fapi2 profile's registration rules word for word (private_key_jwt only, keys
only for ES256 or PS256, ES256 ID tokens, PAR and DPoP set), the options any agency
may take (signed request objects, DPoP-bound tokens), and the same rules held by
every update through the registry, which changes nothing when it refuses."""

from __future__ import annotations

import functools
from dataclasses import replace
from datetime import datetime
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from services.identity.domain.agencies import Agency, register
from services.identity.domain.audit import EventType
from services.identity.service_layer.agencies import AgencyRegistry
from services.runtime.egress import PUBLIC_ONLY
from services.runtime.errors import FieldViolation, InvalidArgument
from tests.unit.identity.account_world import World
from tests.unit.identity.conftest import Opener

NO_SECRET = FieldViolation(
    "jwks",
    "the fapi2 profile authenticates agencies by private_key_jwt only: "
    "register a JWK Set instead of a client secret",
)
NO_PUBLIC = FieldViolation(
    "public", "the fapi2 profile admits no public client: private_key_jwt only"
)
ES256_ID_TOKENS = FieldViolation(
    "id_token_alg", "the fapi2 profile signs ID tokens with ES256 only"
)
PS256_ONLY = FieldViolation(
    "jwks.keys[0].alg", "the fapi2 profile takes RSA keys only with alg PS256 (RS256 is refused)"
)
RSA_2048 = FieldViolation("jwks.keys[0]", "the fapi2 profile takes RSA keys of at least 2048 bits")
NEEDS_KEYS = FieldViolation(
    "require_signed_request_object",
    "request objects are verified by the agency's keys: register a JWK Set",
)


def refusals(now: datetime, **fields: Any) -> list[FieldViolation]:
    arguments: dict[str, Any] = {"name": "Benefits", "scopes": ["openid"], **fields}
    with pytest.raises(InvalidArgument) as info:
        register(now=now, **arguments)
    return list(info.value.violations)


def accepted(now: datetime, **fields: Any) -> Agency:
    arguments: dict[str, Any] = {"name": "Benefits", "scopes": ["openid"], **fields}
    return register(now=now, **arguments).agency


def ec_key(curve: ec.EllipticCurve | None = None, **extra: str) -> dict[str, Any]:
    private = ec.generate_private_key(curve or ec.SECP256R1())
    return {**ECAlgorithm.to_jwk(private.public_key(), as_dict=True), **extra}


@functools.cache
def _rsa_public(bits: int) -> dict[str, Any]:
    private = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return dict(RSAAlgorithm.to_jwk(private.public_key(), as_dict=True))


def rsa_key(bits: int = 2048, **extra: str) -> dict[str, Any]:
    return {**_rsa_public(bits), **extra}


def jwks(*keys: dict[str, Any]) -> dict[str, Any]:
    return {"keys": list(keys)}


def flags(agency: Agency) -> tuple[str, bool, bool, bool]:
    return (
        agency.profile,
        agency.require_pushed_authorization_requests,
        agency.require_signed_request_object,
        agency.dpop_bound_access_tokens,
    )


# --- registration ----------------------------------------------------------------------


def test_an_agency_is_standard_with_no_requirement_by_default(now: datetime) -> None:
    assert flags(accepted(now)) == ("standard", False, False, False)
    assert flags(accepted(now, public=True)) == ("standard", False, False, False)


@pytest.mark.parametrize(
    "key", [ec_key(), ec_key(alg="ES256"), rsa_key(alg="PS256"), rsa_key(3072, alg="PS256")]
)
def test_fapi2_takes_es256_and_ps256_keys_and_sets_par_and_dpop(
    now: datetime, key: dict[str, Any]
) -> None:
    agency = accepted(now, profile="fapi2", jwks=jwks(key))
    assert flags(agency) == ("fapi2", True, False, True)
    assert agency.auth_methods == ("private_key_jwt",)
    assert agency.secret_hash is None
    assert agency.id_token_alg == "ES256"


def test_fapi2_keeps_the_requirements_asked_for_and_signed_requests_when_asked(
    now: datetime,
) -> None:
    agency = accepted(
        now,
        profile="fapi2",
        jwks=jwks(ec_key()),
        require_pushed_authorization_requests=True,
        dpop_bound_access_tokens=True,
        require_signed_request_object=True,
    )
    assert flags(agency) == ("fapi2", True, True, True)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, [NO_SECRET]),
        ({"public": True}, [NO_PUBLIC]),
        ({"jwks": jwks(ec_key()), "id_token_alg": "RS256"}, [ES256_ID_TOKENS]),
        ({"jwks": jwks(rsa_key(alg="RS256"))}, [PS256_ONLY]),
        ({"jwks": jwks(rsa_key())}, [PS256_ONLY]),  # without alg, RS256 would verify too
        ({"jwks": jwks(rsa_key(1024, alg="PS256"))}, [RSA_2048]),
        ({"jwks": jwks(rsa_key(1024))}, [PS256_ONLY, RSA_2048]),
        (
            {"jwks": jwks(ec_key(ec.SECP384R1()))},
            [FieldViolation("jwks.keys[0].crv", "the fapi2 profile takes EC keys on P-256 only")],
        ),
        (
            {"jwks": jwks(ec_key()), "require_pushed_authorization_requests": False},
            [
                FieldViolation(
                    "require_pushed_authorization_requests", "the fapi2 profile requires it"
                )
            ],
        ),
        (
            {"jwks": jwks(ec_key()), "dpop_bound_access_tokens": False},
            [FieldViolation("dpop_bound_access_tokens", "the fapi2 profile requires it")],
        ),
    ],
)
def test_each_fapi2_refusal_names_its_field_and_says_why(
    now: datetime, fields: dict[str, Any], expected: list[FieldViolation]
) -> None:
    assert refusals(now, profile="fapi2", **fields) == expected


def test_every_key_of_a_fapi2_set_is_judged_and_every_problem_reported_at_once(
    now: datetime,
) -> None:
    unusable = {"kty": "EC", "crv": "P-256"}
    keys = jwks(
        ec_key(), unusable, rsa_key(alg="RS256"), rsa_key(alg="PS256"), ec_key(ec.SECP521R1())
    )
    found = refusals(
        now,
        name=" ",
        profile="fapi2",
        jwks=keys,
        id_token_alg="RS256",
        dpop_bound_access_tokens=False,
    )
    assert found[1].field == "jwks.keys[1]"  # judged as in any set, and no further
    assert found[1].description.startswith("not a usable public key: ")
    assert found[:1] + found[2:] == [
        FieldViolation("name", "required"),
        FieldViolation("jwks.keys[2].alg", PS256_ONLY.description),
        FieldViolation("jwks.keys[4].crv", "the fapi2 profile takes EC keys on P-256 only"),
        ES256_ID_TOKENS,
        FieldViolation("dpop_bound_access_tokens", "the fapi2 profile requires it"),
    ]


def test_the_standard_profile_keeps_rs256_keys_and_id_tokens(now: datetime) -> None:
    agency = accepted(now, jwks=jwks(rsa_key(alg="RS256"), rsa_key()), id_token_alg="RS256")
    assert flags(agency) == ("standard", False, False, False)


def test_an_unknown_profile_is_refused(now: datetime) -> None:
    assert refusals(now, profile="FAPI2") == [
        FieldViolation("profile", "must be 'standard' or 'fapi2'")
    ]


def test_any_agency_may_require_dpop_bound_tokens(now: datetime) -> None:
    assert accepted(now, dpop_bound_access_tokens=True).dpop_bound_access_tokens
    assert accepted(now, public=True, dpop_bound_access_tokens=True).dpop_bound_access_tokens


def test_signed_request_objects_need_registered_keys(now: datetime) -> None:
    assert refusals(now, require_signed_request_object=True) == [NEEDS_KEYS]
    assert refusals(now, public=True, require_signed_request_object=True) == [NEEDS_KEYS]
    agency = accepted(now, jwks=jwks(rsa_key(alg="RS256")), require_signed_request_object=True)
    assert flags(agency) == ("standard", False, True, False)


# --- updates through the registry -------------------------------------------------------


@pytest.fixture
def world() -> World:
    return World()


@pytest.fixture
def registry(world: World) -> AgencyRegistry:
    return AgencyRegistry(world.uow, world.clock, egress=PUBLIC_ONLY)


def refused_update(registry: AgencyRegistry, agency: Agency, **changes: Any) -> list[Any]:
    """The violations of a refused update; the stored agency is checked unchanged."""
    with pytest.raises(InvalidArgument) as info:
        registry.update(agency.client_id, changes)
    assert registry.get(agency.client_id) == agency
    return list(info.value.violations)


def test_switching_to_fapi2_sets_par_and_dpop_and_is_audited(
    world: World, registry: AgencyRegistry
) -> None:
    agency = registry.create(name="Benefits", scopes=["openid"], jwks=jwks(ec_key())).agency
    switched = registry.update(agency.client_id, {"profile": "fapi2"}, actor="op")
    assert flags(switched) == ("fapi2", True, False, True)
    assert registry.get(agency.client_id) == switched
    event = world.state.audit.of_type(EventType.AGENCY_UPDATED)[-1]
    assert event.details == {"by": "op", "fields": ["profile"]}


def test_an_agency_that_breaks_the_rules_cannot_switch_to_fapi2(registry: AgencyRegistry) -> None:
    secret = registry.create(name="Secret", scopes=["openid"]).agency
    assert refused_update(registry, secret, profile="fapi2") == [NO_SECRET]
    public = registry.create(name="App", scopes=["openid"], public=True).agency
    assert refused_update(registry, public, profile="fapi2") == [NO_PUBLIC]
    rs256 = registry.create(
        name="Old keys", scopes=["openid"], jwks=jwks(rsa_key(alg="RS256")), id_token_alg="RS256"
    ).agency
    assert refused_update(registry, rs256, profile="fapi2") == [PS256_ONLY, ES256_ID_TOKENS]
    # ... and passes once the ID token algorithm changes with it (keys cannot change).
    keyed = registry.create(
        name="New keys", scopes=["openid"], jwks=jwks(ec_key()), id_token_alg="RS256"
    ).agency
    assert refused_update(registry, keyed, profile="fapi2") == [ES256_ID_TOKENS]
    switched = registry.update(keyed.client_id, {"profile": "fapi2", "id_token_alg": "ES256"})
    assert flags(switched) == ("fapi2", True, False, True)


def test_a_switch_to_fapi2_cannot_relax_what_it_sets(registry: AgencyRegistry) -> None:
    agency = registry.create(name="Benefits", scopes=["openid"], jwks=jwks(ec_key())).agency
    assert refused_update(
        registry, agency, profile="fapi2", require_pushed_authorization_requests=False
    ) == [FieldViolation("require_pushed_authorization_requests", "the fapi2 profile requires it")]


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            {"require_pushed_authorization_requests": False},
            [
                FieldViolation(
                    "require_pushed_authorization_requests", "the fapi2 profile requires it"
                )
            ],
        ),
        (
            {"dpop_bound_access_tokens": False},
            [FieldViolation("dpop_bound_access_tokens", "the fapi2 profile requires it")],
        ),
        ({"id_token_alg": "RS256"}, [ES256_ID_TOKENS]),
    ],
)
def test_a_fapi2_agency_keeps_its_rules(
    registry: AgencyRegistry, changes: dict[str, Any], expected: list[FieldViolation]
) -> None:
    agency = registry.create(
        name="Benefits", scopes=["openid"], jwks=jwks(ec_key()), profile="fapi2"
    ).agency
    assert refused_update(registry, agency, **changes) == expected


def test_back_to_standard_keeps_the_flags_until_changed(registry: AgencyRegistry) -> None:
    agency = registry.create(
        name="Benefits", scopes=["openid"], jwks=jwks(ec_key()), profile="fapi2"
    ).agency
    renamed = registry.update(agency.client_id, {"name": "Benefits online"})
    assert flags(renamed) == ("fapi2", True, False, True)
    standard = registry.update(agency.client_id, {"profile": "standard"})
    assert flags(standard) == ("standard", True, False, True)
    relaxed = registry.update(
        agency.client_id,
        {"require_pushed_authorization_requests": False, "dpop_bound_access_tokens": False},
    )
    assert flags(relaxed) == ("standard", False, False, False)
    # Leaving the profile and relaxing in one update is allowed too.
    again = registry.update(agency.client_id, {"profile": "fapi2"})
    both = registry.update(
        again.client_id, {"profile": "standard", "dpop_bound_access_tokens": False}
    )
    assert flags(both) == ("standard", True, False, False)


def test_the_options_change_by_update_under_the_same_rules(registry: AgencyRegistry) -> None:
    secret = registry.create(name="Secret", scopes=["openid"]).agency
    assert refused_update(registry, secret, require_signed_request_object=True) == [NEEDS_KEYS]
    dpop = registry.update(secret.client_id, {"dpop_bound_access_tokens": True})
    assert flags(dpop) == ("standard", False, False, True)
    keyed = registry.create(name="Keyed", scopes=["openid"], jwks=jwks(ec_key())).agency
    signed = registry.update(keyed.client_id, {"require_signed_request_object": True})
    assert flags(signed) == ("standard", False, True, False)
    assert refused_update(registry, signed, profile="gold") == [
        FieldViolation("profile", "must be 'standard' or 'fapi2'")
    ]


def test_the_settings_are_stored_and_read_back(work: Opener, now: datetime) -> None:
    """The SQL adapter (SQLite here; PostgreSQL in the gRPC tests) and the fake alike."""
    fapi2 = accepted(now, profile="fapi2", jwks=jwks(ec_key()), require_signed_request_object=True)
    plain = accepted(now, dpop_bound_access_tokens=True)
    with work() as uow:
        uow.agencies.add(fapi2)
        uow.agencies.add(plain)
    with work() as uow:
        assert uow.agencies.get(fapi2.client_id) == fapi2
        assert uow.agencies.get(plain.client_id) == plain
        uow.agencies.update(replace(fapi2, profile="standard", dpop_bound_access_tokens=False))
    with work() as uow:
        assert flags(uow.agencies.get(fapi2.client_id)) == ("standard", True, True, False)
