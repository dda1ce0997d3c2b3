"""RotateClientSecret, RevokeClientSecret, ReplaceJwks, SetAgencyMode and the
consent page's name and logo over gRPC, on SQLite and PostgreSQL: the secrets
at the token endpoint, every refusal, idempotency and the audit log."""

from __future__ import annotations

import json
import uuid
from typing import Any

import grpc
import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from gaap.common.v1 import caller_pb2
from gaap.identity.v1 import identity_pb2
from google.protobuf.duration_pb2 import Duration
from google.protobuf.field_mask_pb2 import FieldMask
from jwt.algorithms import ECAlgorithm

from services.identity.domain.audit import EventType
from tests.integration.identity_ops.support import OPERATOR_SCOPES, Caller, caller, violations
from tests.support.platform import Platform


@pytest.fixture(scope="module")
def operator(platform: Platform) -> Caller:
    return caller(platform, OPERATOR_SCOPES)


def key() -> str:
    return uuid.uuid4().hex


def jwks_json() -> str:
    public = ec.generate_private_key(ec.SECP256R1()).public_key()
    return json.dumps({"keys": [ECAlgorithm.to_jwk(public, as_dict=True)]})


def new_agency(operator: Caller, **fields: object) -> identity_pb2.CreateAgencyResponse:
    values: dict[str, object] = {
        "name": "Parking Permits",
        "scopes": ["payments:create", "openid"],
        "redirect_uris": ["https://parking.example.gov/callback"],
        "idempotency_key": key(),
        **fields,
    }
    request = identity_pb2.CreateAgencyRequest(**values)  # type: ignore[arg-type]
    created: identity_pb2.CreateAgencyResponse = operator.stub.CreateAgency(
        request, metadata=operator.metadata
    )
    return created


def token_status(platform: Platform, client_id: str, secret: str) -> int:
    return httpx.post(
        platform.token_url,
        data={"grant_type": "client_credentials", "scope": "payments:create"},
        auth=(client_id, secret),
    ).status_code


def test_a_rotated_secret_and_the_previous_one_both_work_until_it_is_revoked(
    platform: Platform, operator: Caller
) -> None:
    created = new_agency(operator)
    agency_id, old = created.agency.id, created.client_secret
    assert created.agency.HasField("secret")
    request = identity_pb2.RotateClientSecretRequest(agency_id=agency_id, idempotency_key=key())
    rotated = operator.stub.RotateClientSecret(request, metadata=operator.metadata)
    assert rotated.client_secret.startswith("gaap_test_")
    assert rotated.agency.previous_secret.HasField("expire_time")
    lasts = rotated.agency.previous_secret.expire_time.ToDatetime() - (
        rotated.agency.secret.create_time.ToDatetime()
    )
    assert 23 * 3600 < lasts.total_seconds() <= 24 * 3600
    assert token_status(platform, agency_id, rotated.client_secret) == 200
    assert token_status(platform, agency_id, old) == 200
    replay = operator.stub.RotateClientSecret(request, metadata=operator.metadata)
    assert replay.client_secret == ""  # never stored in clear, so never shown again
    assert token_status(platform, agency_id, rotated.client_secret) == 200  # nothing rotated

    revoked = operator.stub.RevokeClientSecret(
        identity_pb2.RevokeClientSecretRequest(agency_id=agency_id, idempotency_key=key()),
        metadata=operator.metadata,
    )
    assert not revoked.HasField("previous_secret")
    assert token_status(platform, agency_id, old) == 401
    assert token_status(platform, agency_id, rotated.client_secret) == 200
    with pytest.raises(grpc.RpcError) as info:
        operator.stub.RevokeClientSecret(
            identity_pb2.RevokeClientSecretRequest(agency_id=agency_id, idempotency_key=key()),
            metadata=operator.metadata,
        )
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    events = operator.stub.ListAuditEvents(
        identity_pb2.ListAuditEventsRequest(agency_id=agency_id), metadata=operator.metadata
    ).events
    assert [e.type for e in events] == [
        EventType.AGENCY_SECRET_REVOKED,
        EventType.AGENCY_SECRET_ROTATED,
        EventType.AGENCY_CREATED,
    ]
    assert all(e.details["by"] == operator.agency.client_id for e in events)
    assert all(old not in str(e.details) for e in events)


def test_a_zero_ttl_ends_the_old_secret_at_once_and_a_long_one_is_refused(
    platform: Platform, operator: Caller
) -> None:
    created = new_agency(operator)
    with pytest.raises(grpc.RpcError) as info:
        operator.stub.RotateClientSecret(
            identity_pb2.RotateClientSecretRequest(
                agency_id=created.agency.id,
                previous_secret_ttl=Duration(seconds=8 * 86400),
                idempotency_key=key(),
            ),
            metadata=operator.metadata,
        )
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "previous_secret_ttl" in violations(info.value)
    assert token_status(platform, created.agency.id, created.client_secret) == 200
    rotated = operator.stub.RotateClientSecret(
        identity_pb2.RotateClientSecretRequest(
            agency_id=created.agency.id, previous_secret_ttl=Duration(), idempotency_key=key()
        ),
        metadata=operator.metadata,
    )
    assert not rotated.agency.HasField("previous_secret")
    assert token_status(platform, created.agency.id, created.client_secret) == 401


def test_agencies_without_a_secret_are_refused_with_failed_precondition(
    operator: Caller,
) -> None:
    fapi2 = new_agency(
        operator,
        scopes=["openid"],
        jwks_json=jwks_json(),
        profile=identity_pb2.AGENCY_PROFILE_FAPI2,
    )
    public = new_agency(operator, scopes=["openid"], public=True)
    for agency in (fapi2.agency, public.agency):
        with pytest.raises(grpc.RpcError) as info:
            operator.stub.RotateClientSecret(
                identity_pb2.RotateClientSecretRequest(agency_id=agency.id, idempotency_key=key()),
                metadata=operator.metadata,
            )
        assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        with pytest.raises(grpc.RpcError) as info:
            operator.stub.RevokeClientSecret(
                identity_pb2.RevokeClientSecretRequest(agency_id=agency.id, idempotency_key=key()),
                metadata=operator.metadata,
            )
        assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    with pytest.raises(grpc.RpcError) as info:
        operator.stub.ReplaceJwks(
            identity_pb2.ReplaceJwksRequest(
                agency_id=public.agency.id, jwks_json=jwks_json(), idempotency_key=key()
            ),
            metadata=operator.metadata,
        )
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION


def test_uploading_keys_moves_a_secret_agency_to_private_key_jwt(
    platform: Platform, operator: Caller
) -> None:
    created = new_agency(operator)
    for bad, field in (("not json", "jwks_json"), ('{"keys": []}', "jwks_json")):
        with pytest.raises(grpc.RpcError) as info:
            operator.stub.ReplaceJwks(
                identity_pb2.ReplaceJwksRequest(
                    agency_id=created.agency.id, jwks_json=bad, idempotency_key=key()
                ),
                metadata=operator.metadata,
            )
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert field in violations(info.value)
    assert token_status(platform, created.agency.id, created.client_secret) == 200
    keys = jwks_json()
    replaced = operator.stub.ReplaceJwks(
        identity_pb2.ReplaceJwksRequest(
            agency_id=created.agency.id, jwks_json=keys, idempotency_key=key()
        ),
        metadata=operator.metadata,
    )
    assert list(replaced.auth_methods) == [identity_pb2.CLIENT_AUTH_METHOD_PRIVATE_KEY_JWT]
    assert json.loads(replaced.jwks_json) == json.loads(keys)
    assert not replaced.HasField("secret")
    assert token_status(platform, created.agency.id, created.client_secret) == 401


def test_going_live_is_one_way_and_the_next_secret_is_a_live_one(
    platform: Platform, operator: Caller
) -> None:
    created = new_agency(operator)
    agency_id = created.agency.id

    def set_mode(mode: int) -> identity_pb2.Agency:
        result: identity_pb2.Agency = operator.stub.SetAgencyMode(
            identity_pb2.SetAgencyModeRequest(
                agency_id=agency_id,
                mode=mode,  # type: ignore[arg-type]
                idempotency_key=key(),
            ),
            metadata=operator.metadata,
        )
        return result

    live = set_mode(caller_pb2.MODE_LIVE)
    assert live.mode == caller_pb2.MODE_LIVE
    assert not live.HasField("secret")
    assert live.HasField("previous_secret")
    assert token_status(platform, agency_id, created.client_secret) == 200  # for a day
    with pytest.raises(grpc.RpcError) as info:
        set_mode(caller_pb2.MODE_TEST)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert set_mode(caller_pb2.MODE_LIVE).mode == caller_pb2.MODE_LIVE
    rotated = operator.stub.RotateClientSecret(
        identity_pb2.RotateClientSecretRequest(agency_id=agency_id, idempotency_key=key()),
        metadata=operator.metadata,
    )
    assert rotated.client_secret.startswith("gaap_live_")
    assert token_status(platform, agency_id, rotated.client_secret) == 200


def test_the_consent_page_name_and_logo_through_update_agency(operator: Caller) -> None:
    created = new_agency(operator)
    mask = FieldMask(paths=["display_name", "logo_uri"])
    updated = operator.stub.UpdateAgency(
        identity_pb2.UpdateAgencyRequest(
            agency=identity_pb2.Agency(
                id=created.agency.id,
                display_name="City parking",
                logo_uri="https://city.example/logo.png",
            ),
            update_mask=mask,
            idempotency_key=key(),
        ),
        metadata=operator.metadata,
    )
    assert (updated.display_name, updated.logo_uri) == (
        "City parking",
        "https://city.example/logo.png",
    )
    with pytest.raises(grpc.RpcError) as info:
        operator.stub.UpdateAgency(
            identity_pb2.UpdateAgencyRequest(
                agency=identity_pb2.Agency(
                    id=created.agency.id, logo_uri="http://city.example/logo.png"
                ),
                update_mask=FieldMask(paths=["logo_uri"]),
                idempotency_key=key(),
            ),
            metadata=operator.metadata,
        )
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "agency.logo_uri" in violations(info.value)


def test_the_new_methods_need_the_agencies_scope(platform: Platform, operator: Caller) -> None:
    created = new_agency(operator)
    other = caller(platform, ("identity:tokens",))
    calls: tuple[tuple[Any, Any], ...] = (
        (other.stub.RotateClientSecret, identity_pb2.RotateClientSecretRequest),
        (other.stub.RevokeClientSecret, identity_pb2.RevokeClientSecretRequest),
        (other.stub.ReplaceJwks, identity_pb2.ReplaceJwksRequest),
        (other.stub.SetAgencyMode, identity_pb2.SetAgencyModeRequest),
    )
    for method, message in calls:
        with pytest.raises(grpc.RpcError) as info:
            method(
                message(agency_id=created.agency.id, idempotency_key=key()),
                metadata=other.metadata,
            )
        assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert token_status(platform, created.agency.id, created.client_secret) == 200


def test_an_unknown_agency_is_not_found(operator: Caller) -> None:
    with pytest.raises(grpc.RpcError) as info:
        operator.stub.RotateClientSecret(
            identity_pb2.RotateClientSecretRequest(agency_id="ag_none", idempotency_key=key()),
            metadata=operator.metadata,
        )
    assert info.value.code() == grpc.StatusCode.NOT_FOUND


def test_a_secret_used_at_the_token_endpoint_shows_when_it_was_last_used(
    platform: Platform, operator: Caller
) -> None:
    created = new_agency(operator)
    agency_id, secret = created.agency.id, created.client_secret
    assert not created.agency.secret.HasField("last_use_time")
    assert token_status(platform, agency_id, secret) == 200
    read = operator.stub.GetAgency(
        identity_pb2.GetAgencyRequest(agency_id=agency_id), metadata=operator.metadata
    )
    assert read.secret.HasField("last_use_time")
