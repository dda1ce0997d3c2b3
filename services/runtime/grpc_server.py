"""The gRPC server bootstrap every service uses.

``create_server(address) -> (server, port)`` as in the grpc examples: a
thread-pool server (measured faster per core than ``grpc.aio`` for our calls;
see bench/README.md) with the standard health service and server reflection
registered. Binding port 0 picks a free port, which the tests use.

Interceptors are applied once, when handlers are registered, not by grpc's
per-call pipeline: grpc runs its pipeline on every call and the pipeline builds
a new wrapped handler each time, which cost a third of the whole chain's time.
Only a foreign interceptor (OpenTelemetry's, when tracing is on) still needs
grpc's pipeline, and then every interceptor goes there, in the given order.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Sequence
from concurrent import futures
from dataclasses import dataclass
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from services.runtime.errors import StartupError
from services.runtime.interceptors.base import CallInterceptor, Chain

MAX_MESSAGE_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class GrpcService:
    """A servicer to mount: its full name (for health and reflection) and how to add it."""

    name: str
    add_to_server: Callable[[grpc.Server], None]


def create_server(
    address: str,
    *,
    services: Sequence[GrpcService] = (),
    interceptors: Sequence[grpc.ServerInterceptor[Any, Any]] = (),
    health_servicer: health.HealthServicer | None = None,
    max_workers: int = 8,
    credentials: grpc.ServerCredentials | None = None,
) -> tuple[grpc.Server, int]:
    """Build, bind and return a server (not yet started) and the port it bound;
    with ``credentials`` the port speaks TLS only."""
    own = [i for i in interceptors if isinstance(i, CallInterceptor)]
    at_registration = len(own) == len(interceptors)
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="grpc"),
        interceptors=[] if at_registration else list(interceptors),
        options=[
            # Without this, a second process could silently share the port.
            ("grpc.so_reuseport", 0),
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
        ],
    )
    registrar: Any = _Wrapping(server, Chain(own)) if at_registration and own else server
    health_servicer = health_servicer or health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, registrar)
    for service in services:
        service.add_to_server(registrar)
        health_servicer.set(service.name, health_pb2.HealthCheckResponse.SERVING)
    health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    reflection.enable_server_reflection(
        [s.name for s in services] + [health.SERVICE_NAME, reflection.SERVICE_NAME], registrar
    )
    _check_free(address)
    try:
        port = (
            server.add_secure_port(address, credentials)
            if credentials is not None
            else server.add_insecure_port(address)
        )
    except RuntimeError:
        port = 0
    if port == 0:
        raise StartupError(f"cannot listen for gRPC on {address}: address in use or not local")
    return server, port


class _Wrapping:
    """Stands for the server while services register: every handler they add
    is registered wrapped in ``chain``."""

    def __init__(self, server: grpc.Server, chain: CallInterceptor) -> None:
        self._server = server
        self._chain = chain

    def add_registered_method_handlers(
        self, service: str, handlers: dict[str, grpc.RpcMethodHandler[Any, Any]]
    ) -> None:
        wrapped = {name: self._chain.wrap(f"/{service}/{name}", h) for name, h in handlers.items()}
        self._server.add_registered_method_handlers(service, wrapped)  # type: ignore[attr-defined]

    def add_generic_rpc_handlers(
        self, handlers: Sequence[grpc.GenericRpcHandler[Any, Any]]
    ) -> None:
        self._server.add_generic_rpc_handlers(
            tuple(_WrappedGeneric(h, self._chain) for h in handlers)
        )


class _WrappedGeneric(grpc.GenericRpcHandler):  # type: ignore[type-arg]
    """A generic handler whose handlers come out wrapped (once per method)."""

    def __init__(self, inner: grpc.GenericRpcHandler[Any, Any], chain: CallInterceptor) -> None:
        self._inner = inner
        self._chain = chain

    def service(
        self, handler_call_details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        return self._chain.intercept_service(self._inner.service, handler_call_details)


def _check_free(address: str) -> None:
    """Fail with the OS's reason before gRPC's core prints its own multi-line error."""
    host, _, port = address.rpartition(":")
    if port == "0":
        return
    host = host.strip("[]")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # As gRPC's own listener does: connections left in TIME_WAIT by a killed
        # predecessor must not stop a restart, while a live listener still does.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, int(port)))
        except OSError as exc:
            raise StartupError(f"cannot listen for gRPC on {address}: {exc.strerror}") from None
