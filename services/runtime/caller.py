"""``gaap.common.v1.CallerService``, served by every service."""

from __future__ import annotations

import grpc
from gaap.common.v1 import caller_pb2, caller_pb2_grpc
from google.protobuf.timestamp_pb2 import Timestamp

from services.runtime import context
from services.runtime.grpc_server import GrpcService
from services.runtime.interceptors.auth import AUTHENTICATED, Access

MODES = {"test": caller_pb2.MODE_TEST, "live": caller_pb2.MODE_LIVE}
SERVICE_NAME = caller_pb2.DESCRIPTOR.services_by_name["CallerService"].full_name


class CallerServicer(caller_pb2_grpc.CallerServiceServicer):
    def __init__(self, service: str) -> None:
        self.service = service

    def GetCallerIdentity(
        self, request: caller_pb2.GetCallerIdentityRequest, _: grpc.ServicerContext
    ) -> caller_pb2.CallerIdentity:
        who = context.principal()
        return caller_pb2.CallerIdentity(
            client_id=who.client_id,
            mode=MODES[who.mode],
            scopes=list(who.scope_order),
            service=self.service,
            token_expires_at=Timestamp(seconds=who.expires_at),
            token_id=who.token_id,
        )


def caller_service(service: str) -> tuple[GrpcService, dict[str, Access]]:
    servicer = CallerServicer(service)
    return (
        GrpcService(
            SERVICE_NAME,
            lambda server: caller_pb2_grpc.add_CallerServiceServicer_to_server(servicer, server),
        ),
        {f"/{SERVICE_NAME}/GetCallerIdentity": AUTHENTICATED},
    )
