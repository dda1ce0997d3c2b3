"""CreateAgency, UpdateAgency and DisableAgency over gRPC: validation, idempotency, audit."""

from __future__ import annotations

import json
import uuid

import grpc
import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from gaap.common.v1 import caller_pb2
from gaap.identity.v1 import identity_pb2
from google.protobuf.field_mask_pb2 import FieldMask
from jwt.algorithms import ECAlgorithm

from services.identity.domain.agencies import hash_secret
from services.runtime.pagination import PageRequest
from tests.integration.identity_ops.support import OPERATOR_SCOPES, Caller, caller, violations
from tests.support.platform import Platform


@pytest.fixture(scope="module")
def operator(platform: Platform) -> Caller:
    return caller(platform, OPERATOR_SCOPES)


def key() -> str:
    return uuid.uuid4().hex


def create_request(**fields: object) -> identity_pb2.CreateAgencyRequest:
    values: dict[str, object] = {
        "name": "Parking Permits",
        "scopes": ["payments:create", "openid", "email"],
        "redirect_uris": ["https://parking.example.gov/callback"],
        "idempotency_key": key(),
        **fields,
    }
    return identity_pb2.CreateAgencyRequest(**values)  # type: ignore[arg-type]


def test_create_agency_with_oidc_metadata_and_use_its_secret(
    platform: Platform, operator: Caller
) -> None:
    created = operator.stub.CreateAgency(
        create_request(
            mode=caller_pb2.MODE_LIVE,
            subject_type="public",
            sector_identifier="parking.example.gov",
            id_token_alg="RS256",
            post_logout_redirect_uris=["https://parking.example.gov/bye"],
            backchannel_logout_uri="https://parking.example.gov/logout",
        ),
        metadata=operator.metadata,
    )
    agency = created.agency
    assert agency.id.startswith("ag_")
    assert created.client_secret.startswith("gaap_live_")
    assert agency.mode == caller_pb2.MODE_LIVE
    assert (agency.subject_type, agency.sector_identifier, agency.id_token_alg) == (
        "public",
        "parking.example.gov",
        "RS256",
    )
    assert list(agency.post_logout_redirect_uris) == ["https://parking.example.gov/bye"]
    assert agency.backchannel_logout_uri == "https://parking.example.gov/logout"
    assert list(agency.auth_methods) == [
        identity_pb2.CLIENT_AUTH_METHOD_CLIENT_SECRET_BASIC,
        identity_pb2.CLIENT_AUTH_METHOD_CLIENT_SECRET_POST,
    ]
    stored = platform.admin.registry.get(agency.id)
    assert stored.secret_hash == hash_secret(created.client_secret)  # only the hash is kept
    response = httpx.post(
        platform.token_url,
        data={"grant_type": "client_credentials", "scope": "payments:create"},
        auth=(agency.id, created.client_secret),
    )
    assert response.status_code == 200, response.text


def test_public_and_key_agencies_get_no_secret(operator: Caller) -> None:
    public = operator.stub.CreateAgency(create_request(public=True), metadata=operator.metadata)
    assert public.client_secret == ""
    assert list(public.agency.auth_methods) == [identity_pb2.CLIENT_AUTH_METHOD_NONE]

    jwk = ECAlgorithm.to_jwk(ec.generate_private_key(ec.SECP256R1()).public_key(), as_dict=True)
    keyed = operator.stub.CreateAgency(
        create_request(jwks_json=json.dumps({"keys": [jwk]})), metadata=operator.metadata
    )
    assert keyed.client_secret == ""
    assert list(keyed.agency.auth_methods) == [identity_pb2.CLIENT_AUTH_METHOD_PRIVATE_KEY_JWT]


def test_replay_returns_the_same_agency_without_its_secret(
    platform: Platform, operator: Caller
) -> None:
    request = create_request()
    first = operator.stub.CreateAgency(request, metadata=operator.metadata)
    again = operator.stub.CreateAgency(request, metadata=operator.metadata)
    assert first.client_secret
    assert again.agency == first.agency
    assert again.client_secret == ""

    changed = identity_pb2.CreateAgencyRequest()
    changed.CopyFrom(request)
    changed.name = "Something else"
    with pytest.raises(grpc.RpcError) as caught:
        operator.stub.CreateAgency(changed, metadata=operator.metadata)
    assert caught.value.code() == grpc.StatusCode.ALREADY_EXISTS
    everything = platform.admin.registry.list(PageRequest.parse(500, ""), include_disabled=True)
    names = [a.name for a in everything.items]
    assert "Something else" not in names


def test_bad_registration_is_refused_with_every_violation(operator: Caller) -> None:
    before = len(
        operator.stub.ListAgencies(
            identity_pb2.ListAgenciesRequest(page_size=500, show_disabled=True),
            metadata=operator.metadata,
        ).agencies
    )
    with pytest.raises(grpc.RpcError) as caught:
        operator.stub.CreateAgency(
            create_request(
                name=" ",
                scopes=["payments:steal"],
                redirect_uris=["http://evil.example/cb"],
                subject_type="sideways",
                id_token_alg="HS256",
                backchannel_logout_uri="ftp://x",
            ),
            metadata=operator.metadata,
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert set(violations(caught.value)) == {
        "name",
        "scopes[0]",
        "redirect_uris[0]",
        "subject_type",
        "id_token_alg",
        "backchannel_logout_uri",
    }
    for request, field in (
        (create_request(jwks_json="{nope"), "jwks_json"),
        (create_request(idempotency_key=""), "idempotency_key"),
    ):
        with pytest.raises(grpc.RpcError) as caught:
            operator.stub.CreateAgency(request, metadata=operator.metadata)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert field in violations(caught.value)
    after = operator.stub.ListAgencies(
        identity_pb2.ListAgenciesRequest(page_size=500, show_disabled=True),
        metadata=operator.metadata,
    ).agencies
    assert len(after) == before


def test_update_changes_only_the_masked_fields_and_is_validated(operator: Caller) -> None:
    agency = operator.stub.CreateAgency(create_request(), metadata=operator.metadata).agency
    update = identity_pb2.Agency(
        id=agency.id,
        name="Parking and Permits",
        redirect_uris=["https://parking.example.gov/v2/callback"],
        scopes=["notify:send"],  # not in the mask: unchanged
    )
    updated = operator.stub.UpdateAgency(
        identity_pb2.UpdateAgencyRequest(
            agency=update,
            update_mask=FieldMask(paths=["name", "redirect_uris"]),
            idempotency_key=key(),
        ),
        metadata=operator.metadata,
    )
    assert updated.name == "Parking and Permits"
    assert list(updated.redirect_uris) == ["https://parking.example.gov/v2/callback"]
    assert list(updated.scopes) == list(agency.scopes)
    fetched = operator.stub.GetAgency(
        identity_pb2.GetAgencyRequest(agency_id=agency.id), metadata=operator.metadata
    )
    assert fetched == updated

    bad = identity_pb2.Agency(
        id=agency.id, scopes=["payments:steal"], redirect_uris=["http://x.example"]
    )
    with pytest.raises(grpc.RpcError) as caught:
        operator.stub.UpdateAgency(
            identity_pb2.UpdateAgencyRequest(
                agency=bad,
                update_mask=FieldMask(paths=["scopes", "redirect_uris"]),
                idempotency_key=key(),
            ),
            metadata=operator.metadata,
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert set(violations(caught.value)) == {"agency.scopes[0]", "agency.redirect_uris[0]"}

    for paths in (["mode"], []):
        with pytest.raises(grpc.RpcError) as caught:
            operator.stub.UpdateAgency(
                identity_pb2.UpdateAgencyRequest(
                    agency=bad, update_mask=FieldMask(paths=paths), idempotency_key=key()
                ),
                metadata=operator.metadata,
            )
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert set(violations(caught.value)) == {"update_mask"}
    assert (
        operator.stub.GetAgency(
            identity_pb2.GetAgencyRequest(agency_id=agency.id), metadata=operator.metadata
        )
        == updated
    )


def test_update_and_disable_an_unknown_agency_is_not_found(operator: Caller) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        operator.stub.UpdateAgency(
            identity_pb2.UpdateAgencyRequest(
                agency=identity_pb2.Agency(id="ag_nope", name="X"),
                update_mask=FieldMask(paths=["name"]),
                idempotency_key=key(),
            ),
            metadata=operator.metadata,
        )
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as caught:
        operator.stub.DisableAgency(
            identity_pb2.DisableAgencyRequest(agency_id="ag_nope", idempotency_key=key()),
            metadata=operator.metadata,
        )
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


def test_disable_stops_tokens_and_is_audited(platform: Platform, operator: Caller) -> None:
    created = operator.stub.CreateAgency(create_request(), metadata=operator.metadata)
    request = identity_pb2.DisableAgencyRequest(agency_id=created.agency.id, idempotency_key=key())
    disabled = operator.stub.DisableAgency(request, metadata=operator.metadata)
    assert disabled.disabled
    assert disabled.HasField("disable_time")
    assert operator.stub.DisableAgency(request, metadata=operator.metadata) == disabled
    response = httpx.post(
        platform.token_url,
        data={"grant_type": "client_credentials"},
        auth=(created.agency.id, created.client_secret),
    )
    assert response.status_code == 401

    events = operator.stub.ListAuditEvents(
        identity_pb2.ListAuditEventsRequest(agency_id=created.agency.id),
        metadata=operator.metadata,
    ).events
    assert [e.type for e in events] == ["agency.disabled", "agency.created"]
    assert all(e.details["by"] == operator.agency.client_id for e in events)


def test_agency_methods_need_the_agencies_scope(platform: Platform) -> None:
    agency = caller(platform, ["identity:tokens"])
    with pytest.raises(grpc.RpcError) as caught:
        agency.stub.CreateAgency(create_request(), metadata=agency.metadata)
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
