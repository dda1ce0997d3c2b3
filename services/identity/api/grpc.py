"""``gaap.identity.v1.IdentityService``."""

from __future__ import annotations

import json

import grpc
from gaap.common.v1 import caller_pb2
from gaap.identity.v1 import identity_pb2, identity_pb2_grpc
from google.protobuf.timestamp_pb2 import Timestamp

from services.identity.domain.agencies import Agency
from services.identity.service_layer.agencies import AgencyRegistry
from services.identity.service_layer.keys import KeyStore
from services.runtime.grpc_server import GrpcService
from services.runtime.interceptors.auth import AUTHENTICATED, Access
from services.runtime.pagination import PageRequest

SERVICE_NAME = identity_pb2.DESCRIPTOR.services_by_name["IdentityService"].full_name
AGENCIES_SCOPE = "identity:agencies"

POLICY: dict[str, Access] = {
    f"/{SERVICE_NAME}/GetJwks": AUTHENTICATED,
    f"/{SERVICE_NAME}/GetAgency": AGENCIES_SCOPE,
    f"/{SERVICE_NAME}/ListAgencies": AGENCIES_SCOPE,
}

_AUTH_METHODS = {
    "client_secret_basic": identity_pb2.CLIENT_AUTH_METHOD_CLIENT_SECRET_BASIC,
    "client_secret_post": identity_pb2.CLIENT_AUTH_METHOD_CLIENT_SECRET_POST,
    "private_key_jwt": identity_pb2.CLIENT_AUTH_METHOD_PRIVATE_KEY_JWT,
}
_MODES = {"test": caller_pb2.MODE_TEST, "live": caller_pb2.MODE_LIVE}


class IdentityServicer(identity_pb2_grpc.IdentityServiceServicer):
    def __init__(self, registry: AgencyRegistry, keys: KeyStore) -> None:
        self._registry = registry
        self._keys = keys

    def GetJwks(
        self, request: identity_pb2.GetJwksRequest, _: grpc.ServicerContext
    ) -> identity_pb2.Jwks:
        return identity_pb2.Jwks(json=json.dumps(self._keys.jwks()))

    def GetAgency(
        self, request: identity_pb2.GetAgencyRequest, _: grpc.ServicerContext
    ) -> identity_pb2.Agency:
        return agency_message(self._registry.get(request.client_id))

    def ListAgencies(
        self, request: identity_pb2.ListAgenciesRequest, _: grpc.ServicerContext
    ) -> identity_pb2.ListAgenciesResponse:
        page = self._registry.list(
            PageRequest.parse(request.page_size, request.page_token),
            include_disabled=request.show_disabled,
        )
        return identity_pb2.ListAgenciesResponse(
            agencies=[agency_message(a) for a in page.items],
            next_page_token=page.next_page_token,
        )


def agency_message(agency: Agency) -> identity_pb2.Agency:
    message = identity_pb2.Agency(
        client_id=agency.client_id,
        name=agency.name,
        mode=_MODES[agency.mode],
        scopes=list(agency.scopes),
        redirect_uris=list(agency.redirect_uris),
        auth_methods=[_AUTH_METHODS[m] for m in agency.auth_methods],
        create_time=_timestamp(agency.created_at.timestamp()),
        disabled=agency.disabled,
    )
    if agency.disabled_at is not None:
        message.disable_time.CopyFrom(_timestamp(agency.disabled_at.timestamp()))
    return message


def _timestamp(seconds: float) -> Timestamp:
    stamp = Timestamp()
    stamp.FromNanoseconds(int(seconds * 1e9))
    return stamp


def identity_service(registry: AgencyRegistry, keys: KeyStore) -> GrpcService:
    servicer = IdentityServicer(registry, keys)
    return GrpcService(
        SERVICE_NAME,
        lambda server: identity_pb2_grpc.add_IdentityServiceServicer_to_server(servicer, server),
    )
