"""Calls one service makes to another carry the request id of the call that caused
them (``x-request-id``), so one id follows a request across services' logs."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

import grpc

from services.runtime import context

if TYPE_CHECKING:
    _UnaryUnary = grpc.UnaryUnaryClientInterceptor[Any, Any]
else:  # grpc's classes are generic only in grpc-stubs
    _UnaryUnary = grpc.UnaryUnaryClientInterceptor

HEADER = "x-request-id"


def current_request_id() -> str | None:
    call = context.current_call.get()
    return call.request_id if call is not None else None


def request_id_headers() -> dict[str, str]:
    """HTTP headers for an outbound request made while serving a call."""
    request_id = current_request_id()
    return {HEADER: request_id} if request_id else {}


class _Fields(NamedTuple):
    method: str
    timeout: float | None
    metadata: Any
    credentials: Any
    wait_for_ready: Any
    compression: Any


class _Details(_Fields, grpc.ClientCallDetails):
    """The call details with the request id added (the grpc examples' pattern)."""


class RequestIdClientInterceptor(_UnaryUnary):
    def intercept_unary_unary(
        self,
        continuation: Callable[[grpc.ClientCallDetails, Any], Any],
        client_call_details: grpc.ClientCallDetails,
        request: Any,
    ) -> Any:
        request_id = current_request_id()
        metadata = list(client_call_details.metadata or ())
        if request_id and not any(k == HEADER for k, _ in metadata):
            metadata.append((HEADER, request_id))
            client_call_details = _Details(
                client_call_details.method,
                client_call_details.timeout,
                metadata,
                client_call_details.credentials,
                getattr(client_call_details, "wait_for_ready", None),
                getattr(client_call_details, "compression", None),
            )
        return continuation(client_call_details, request)
