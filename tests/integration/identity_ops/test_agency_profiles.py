"""The operator API's security settings of an agency over gRPC, on SQLite and
PostgreSQL: AGENCY_PROFILE_FAPI2 and what it sets and keeps, the signed-request
and DPoP-bound options, read back and changed with an update mask; a refusal is
INVALID_ARGUMENT with every field violation and changes nothing."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import grpc
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from gaap.identity.v1 import identity_pb2
from google.protobuf.field_mask_pb2 import FieldMask
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from tests.integration.identity_ops.support import OPERATOR_SCOPES, Caller, caller, violations
from tests.support.platform import Platform

FAPI2 = identity_pb2.AGENCY_PROFILE_FAPI2
STANDARD = identity_pb2.AGENCY_PROFILE_STANDARD
REQUIRED = "the fapi2 profile requires it"


@pytest.fixture(scope="module")
def operator(platform: Platform) -> Caller:
    return caller(platform, OPERATOR_SCOPES)


def ec_jwks() -> str:
    key = ECAlgorithm.to_jwk(ec.generate_private_key(ec.SECP256R1()).public_key(), as_dict=True)
    return json.dumps({"keys": [key]})


def rs256_jwks() -> str:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key = RSAAlgorithm.to_jwk(private.public_key(), as_dict=True)
    return json.dumps({"keys": [{**key, "alg": "RS256"}]})


def create(operator: Caller, **fields: Any) -> identity_pb2.Agency:
    request = identity_pb2.CreateAgencyRequest(
        name="Benefits",
        scopes=["openid"],
        redirect_uris=["https://benefits.example.gov/callback"],
        idempotency_key=uuid.uuid4().hex,
        **fields,
    )
    return operator.stub.CreateAgency(request, metadata=operator.metadata).agency


def update(operator: Caller, agency: identity_pb2.Agency, *paths: str) -> identity_pb2.Agency:
    request = identity_pb2.UpdateAgencyRequest(
        agency=agency, update_mask=FieldMask(paths=list(paths)), idempotency_key=uuid.uuid4().hex
    )
    return operator.stub.UpdateAgency(request, metadata=operator.metadata)


def get(operator: Caller, agency_id: str) -> identity_pb2.Agency:
    request = identity_pb2.GetAgencyRequest(agency_id=agency_id)
    return operator.stub.GetAgency(request, metadata=operator.metadata)


def security(agency: identity_pb2.Agency) -> tuple[int, bool, bool, bool]:
    return (
        agency.profile,
        agency.require_pushed_authorization_requests,
        agency.require_signed_request_object,
        agency.dpop_bound_access_tokens,
    )


def refused(call: Callable[..., Any], *args: Any, **kwargs: Any) -> dict[str, str]:
    with pytest.raises(grpc.RpcError) as caught:
        call(*args, **kwargs)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    return violations(caught.value)


def test_a_fapi2_agency_is_created_with_par_and_dpop_and_read_back(
    platform: Platform, operator: Caller
) -> None:
    created = create(operator, profile=FAPI2, jwks_json=ec_jwks())
    assert security(created) == (FAPI2, True, False, True)
    assert list(created.auth_methods) == [identity_pb2.CLIENT_AUTH_METHOD_PRIVATE_KEY_JWT]
    assert get(operator, created.id) == created
    stored = platform.admin.registry.get(created.id)
    assert (stored.profile, stored.dpop_bound_access_tokens) == ("fapi2", True)


def test_unspecified_is_standard_and_the_options_are_kept(operator: Caller) -> None:
    plain = create(operator)
    assert security(plain) == (STANDARD, False, False, False)
    options = create(
        operator,
        jwks_json=ec_jwks(),
        require_signed_request_object=True,
        dpop_bound_access_tokens=True,
    )
    assert security(options) == (STANDARD, False, True, True)
    assert get(operator, options.id) == options


def test_a_fapi2_creation_that_breaks_the_rules_names_every_field(operator: Caller) -> None:
    before = operator.stub.ListAgencies(
        identity_pb2.ListAgenciesRequest(page_size=500, show_disabled=True),
        metadata=operator.metadata,
    ).agencies
    found = refused(create, operator, profile=FAPI2, jwks_json=rs256_jwks(), id_token_alg="RS256")
    assert found == {
        "jwks.keys[0].alg": "the fapi2 profile takes RSA keys only with alg PS256 "
        "(RS256 is refused)",
        "id_token_alg": "the fapi2 profile signs ID tokens with ES256 only",
    }
    assert set(refused(create, operator, profile=FAPI2)) == {"jwks"}
    assert set(refused(create, operator, profile=FAPI2, public=True)) == {"public"}
    assert refused(create, operator, require_signed_request_object=True) == {
        "require_signed_request_object": "request objects are verified by the agency's keys: "
        "register a JWK Set"
    }
    assert refused(create, operator, profile=7) == {
        "profile": "must be AGENCY_PROFILE_STANDARD or AGENCY_PROFILE_FAPI2"
    }
    after = operator.stub.ListAgencies(
        identity_pb2.ListAgenciesRequest(page_size=500, show_disabled=True),
        metadata=operator.metadata,
    ).agencies
    assert after == before


def test_the_profile_and_options_change_with_the_update_mask(operator: Caller) -> None:
    agency = create(operator, jwks_json=ec_jwks())
    changes = identity_pb2.Agency(id=agency.id, profile=FAPI2, require_signed_request_object=True)
    switched = update(operator, changes, "profile")  # the other field is not in the mask
    assert security(switched) == (FAPI2, True, False, True)
    assert get(operator, agency.id) == switched

    for path in ("require_pushed_authorization_requests", "dpop_bound_access_tokens"):
        relax = identity_pb2.Agency(id=agency.id)  # false, under the mask
        assert refused(update, operator, relax, path) == {f"agency.{path}": REQUIRED}
    rs256 = identity_pb2.Agency(id=agency.id, id_token_alg="RS256")
    assert refused(update, operator, rs256, "id_token_alg") == {
        "agency.id_token_alg": "the fapi2 profile signs ID tokens with ES256 only"
    }
    unspecified = identity_pb2.Agency(id=agency.id)
    assert refused(update, operator, unspecified, "profile") == {
        "agency.profile": "must be AGENCY_PROFILE_STANDARD or AGENCY_PROFILE_FAPI2"
    }
    assert get(operator, agency.id) == switched

    back = identity_pb2.Agency(id=agency.id, profile=STANDARD, require_signed_request_object=True)
    standard = update(operator, back, "profile", "require_signed_request_object")
    assert security(standard) == (STANDARD, True, True, True)  # flags kept
    relaxed = update(operator, identity_pb2.Agency(id=agency.id), "dpop_bound_access_tokens")
    assert security(relaxed) == (STANDARD, True, True, False)
    assert get(operator, agency.id) == relaxed


def test_a_secret_agency_cannot_switch_to_fapi2(operator: Caller) -> None:
    agency = create(operator)
    to_fapi2 = identity_pb2.Agency(id=agency.id, profile=FAPI2)
    assert set(refused(update, operator, to_fapi2, "profile")) == {"agency.jwks"}
    assert get(operator, agency.id) == agency
